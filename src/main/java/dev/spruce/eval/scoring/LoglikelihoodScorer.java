package dev.spruce.eval.scoring;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.spruce.eval.tasks.LoglikelihoodRequest;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TokenBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Scores token sequences with a model: the summed log-probability of each sequence's scored tokens, their
 * count, and whether every scored token is the model's greedy (argmax) choice (lm-eval's {@code is_greedy}).
 * Perplexity windows and multiple-choice requests are both such sequences.
 *
 * <p>Sequences are sorted by length (longest first, so the largest batch runs first) and packed into batches of
 * at most {@code batchTokens} padded tokens, right-padded under an attention mask. Under the causal mask a real
 * token never sees the padding after it and its position is unchanged, so batching does not change any score.
 * Each batch runs without autograd on its own NDManager, closed after the batch; log-softmax runs in float64
 * for float64 models and in float32 otherwise, and the sums are taken in Java doubles.
 */
public final class LoglikelihoodScorer {
    /** Padded tokens per forward batch unless told otherwise. */
    public static final int DEFAULT_BATCH_TOKENS = 2048;
    /** Padding never reaches a real token (right padding, causal mask), so any valid id serves. */
    private static final int PAD_ID = 0;
    /** Float32 logits per row group when scoring: below glibc's largest threshold for reusing freed memory. */
    static final long GROUP_BYTES = 8L << 20;

    /**
     * One sequence to score: the model reads {@code tokens[0 .. n-2]} and the token at every position
     * {@code p >= firstScored} is scored from the logits at {@code p - 1}; the tokens before are context only.
     */
    public record Sequence(int[] tokens, int firstScored) {
        public Sequence {
            if (firstScored < 1 || firstScored >= tokens.length) {
                throw new IllegalArgumentException("firstScored must be in [1, " + (tokens.length - 1)
                        + "] for a sequence of " + tokens.length + " tokens, got " + firstScored);
            }
        }

        /** A perplexity window: all of its ids, scored from its first scored position on. */
        public static Sequence of(PerplexityWindow window) {
            return new Sequence(window.ids(), window.firstScored());
        }

        /** A choice: context followed by continuation, only the continuation scored. */
        public static Sequence of(LoglikelihoodRequest request) {
            int[] context = request.contextIds();
            int[] continuation = request.continuationIds();
            int[] tokens = Arrays.copyOf(context, context.length + continuation.length);
            System.arraycopy(continuation, 0, tokens, context.length, continuation.length);
            return new Sequence(tokens, context.length);
        }

        /** The tokens the model reads: all but the last. */
        public int inputLength() {
            return tokens.length - 1;
        }

        public int scoredTokens() {
            return tokens.length - firstScored;
        }
    }

    /**
     * @param logLikelihood the summed natural-log probability of the scored tokens
     * @param scoredTokens  how many tokens were scored
     * @param greedy        whether each scored token is the argmax of its logits (the lowest id on ties)
     */
    public record Score(double logLikelihood, int scoredTokens, boolean greedy) {}

    private final LlamaModel model;
    private final int batchTokens;
    private final long groupBytes;

    /** {@code batchTokens}: the most padded tokens per forward batch; a longer sequence gets a batch of its own. */
    public LoglikelihoodScorer(LlamaModel model, int batchTokens) {
        this(model, batchTokens, GROUP_BYTES);
    }

    /** The same, the logits taken in row groups of at most {@code groupBytes} of float32 (at least one row). */
    LoglikelihoodScorer(LlamaModel model, int batchTokens, long groupBytes) {
        if (batchTokens < 1) {
            throw new IllegalArgumentException("batchTokens must be positive, got " + batchTokens);
        }
        this.model = model;
        this.batchTokens = batchTokens;
        this.groupBytes = groupBytes;
    }

    /** Scores every sequence; the result has the order of {@code sequences}. */
    public List<Score> score(List<Sequence> sequences) {
        Score[] scores = new Score[sequences.size()];
        for (int[] batch : batches(sequences, batchTokens)) {
            Score[] batchScores = scoreBatch(sequences, batch);
            for (int i = 0; i < batch.length; i++) {
                scores[batch[i]] = batchScores[i];
            }
        }
        return Arrays.asList(scores);
    }

    /** The summed negative log-likelihood and count of the windows' scored tokens, added in window order. */
    public PerplexityResult perplexity(List<PerplexityWindow> windows) {
        return sumNll(score(windows.stream().map(Sequence::of).toList()));
    }

    /** The continuation log-likelihood of every request, in request order. */
    public List<ChoiceLoglikelihood> loglikelihoods(List<LoglikelihoodRequest> requests) {
        return choiceLoglikelihoods(requests, score(requests.stream().map(Sequence::of).toList()));
    }

    /** The perplexity sums of window scores, added in list order. */
    public static PerplexityResult sumNll(List<Score> scores) {
        double sum = 0;
        long count = 0;
        for (Score s : scores) {
            sum -= s.logLikelihood();
            count += s.scoredTokens();
        }
        return new PerplexityResult(sum, count);
    }

    /** Pairs request {@code i} with score {@code i}. */
    public static List<ChoiceLoglikelihood> choiceLoglikelihoods(List<LoglikelihoodRequest> requests, List<Score> scores) {
        if (requests.size() != scores.size()) {
            throw new IllegalArgumentException(requests.size() + " requests but " + scores.size() + " scores");
        }
        List<ChoiceLoglikelihood> out = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            LoglikelihoodRequest r = requests.get(i);
            out.add(new ChoiceLoglikelihood(r.docKey(), r.choiceIndex(), scores.get(i).logLikelihood()));
        }
        return out;
    }

    /**
     * Indices of {@code sequences} grouped into batches: longest input first (ties in list order), each batch
     * as many sequences as fit {@code batchTokens} padded to the batch's longest, at least one.
     */
    static List<int[]> batches(List<Sequence> sequences, int batchTokens) {
        int[] order = IntStream.range(0, sequences.size()).boxed()
                .sorted(Comparator.comparingInt((Integer i) -> -sequences.get(i).inputLength()).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
        List<int[]> batches = new ArrayList<>();
        int start = 0;
        while (start < order.length) {
            int longest = sequences.get(order[start]).inputLength();
            int rows = Math.max(1, Math.min(order.length - start, batchTokens / longest));
            batches.add(Arrays.copyOfRange(order, start, start + rows));
            start += rows;
        }
        return batches;
    }

    private Score[] scoreBatch(List<Sequence> sequences, int[] batch) {
        int rows = batch.length;
        int length = sequences.get(batch[0]).inputLength();
        int[][] ids = new int[rows][length];
        int[][] mask = new int[rows][length];
        long[] targets = new long[rows * length];
        for (int r = 0; r < rows; r++) {
            int[] tokens = sequences.get(batch[r]).tokens();
            Arrays.fill(ids[r], PAD_ID);
            System.arraycopy(tokens, 0, ids[r], 0, tokens.length - 1);
            Arrays.fill(mask[r], 0, tokens.length - 1, 1);
            for (int p = 0; p + 1 < tokens.length; p++) {
                targets[r * length + p] = tokens[p + 1];
            }
        }
        double[] picked = new double[rows * length];
        long[] argmax = new long[rows * length];
        // Rows in groups of at most about GROUP_BYTES of float32 logits (at least one row), so the log-softmax's
        // vocabulary-wide arrays are reused from group to group instead of mapped afresh for the whole batch.
        long rowBytes = (long) length * model.config().vocabSize() * Float.BYTES;
        int rowsPerGroup = (int) Math.max(1, Math.min(rows, groupBytes / rowBytes));
        try (Djl.GradScope noGrad = Djl.gradScope(false);
             NDManager step = model.manager().newSubManager()) {
            NDArray index = step.create(targets, new Shape(rows, length, 1));
            model.logitsByRows(step, new TokenBatch(ids, mask, null), ForwardHooks.NONE, rowsPerGroup, (from, z) -> {
                NDArray logits = z;
                if (logits.getDataType() != DataType.FLOAT64 && logits.getDataType() != DataType.FLOAT32) {
                    logits = logits.toType(DataType.FLOAT32, false);
                }
                int n = Math.toIntExact(logits.getShape().get(0));
                NDArray groupIndex = n == rows ? index : index.get(new NDIndex("{}:{}", from, from + n));
                double[] p = Djl.toDoubles(logits.logSoftmax(-1).gather(groupIndex, 2));
                long[] a = logits.argMax(-1).toLongArray();
                System.arraycopy(p, 0, picked, from * length, p.length);
                System.arraycopy(a, 0, argmax, from * length, a.length);
            });
        }
        Score[] scores = new Score[rows];
        for (int r = 0; r < rows; r++) {
            Sequence s = sequences.get(batch[r]);
            double sum = 0;
            boolean greedy = true;
            // The logits at p - 1 score the token at p.
            for (int p = s.firstScored(); p < s.tokens().length; p++) {
                int at = r * length + p - 1;
                sum += picked[at];
                greedy &= argmax[at] == targets[at];
            }
            scores[r] = new Score(sum, s.scoredTokens(), greedy);
        }
        return scores;
    }
}
