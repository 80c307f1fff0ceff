package dev.spruce.eval.scoring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.eval.tasks.LoglikelihoodRequest;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ReferenceLlama;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The scorer equals an independent float64 computation, whatever the batching. */
class LoglikelihoodScorerTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);
    private static Map<String, double[]> weights;
    private static LlamaModel model;
    private static ReferenceLlama reference;

    @BeforeAll
    static void load() {
        weights = TinyModels.randomWeights(CONFIG, 3);
        model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, weights), DataType.FLOAT64, Device.cpu());
        reference = new ReferenceLlama(CONFIG, weights);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Sequences of lengths 2..13 with varied first scored positions. */
    private static List<LoglikelihoodScorer.Sequence> sequences() {
        int[] lengths = {9, 3, 13, 2, 7, 7, 11, 5};
        int[] firstScored = {1, 2, 8, 1, 4, 1, 10, 3};
        List<LoglikelihoodScorer.Sequence> out = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            out.add(new LoglikelihoodScorer.Sequence(TinyModels.randomIds(CONFIG, 1, lengths[i], 100 + i)[0],
                    firstScored[i]));
        }
        return out;
    }

    /** Log-softmax of the reference's float64 logits, one unpadded sequence at a time. */
    private static LoglikelihoodScorer.Score expected(LoglikelihoodScorer.Sequence s) {
        int[] tokens = s.tokens();
        double[][] logits = reference.logits(new int[][] {Arrays.copyOf(tokens, tokens.length - 1)}, null)[0];
        double sum = 0;
        boolean greedy = true;
        for (int p = s.firstScored(); p < tokens.length; p++) {
            double[] row = logits[p - 1];
            double max = Arrays.stream(row).max().orElseThrow();
            double logNormalizer = max + Math.log(Arrays.stream(row).map(x -> Math.exp(x - max)).sum());
            sum += row[tokens[p]] - logNormalizer;
            int argmax = 0;
            for (int v = 1; v < row.length; v++) {
                if (row[v] > row[argmax]) {
                    argmax = v;
                }
            }
            greedy &= argmax == tokens[p];
        }
        return new LoglikelihoodScorer.Score(sum, tokens.length - s.firstScored(), greedy);
    }

    @Test
    void equalsTheFloat64ReferenceWhateverTheBatchSize() {
        List<LoglikelihoodScorer.Sequence> sequences = sequences();
        // 1: one sequence per batch; 24: two or three padded rows; 1000: everything in one batch. The LM head and
        // the log-softmax run on the whole batch at once, or (group of 1 byte) one row at a time.
        for (int batchTokens : new int[] {1, 24, 1000}) {
            for (long groupBytes : new long[] {LoglikelihoodScorer.GROUP_BYTES, 1}) {
                List<LoglikelihoodScorer.Score> scores = new LoglikelihoodScorer(model, batchTokens, groupBytes)
                        .score(sequences);
                for (int i = 0; i < sequences.size(); i++) {
                    LoglikelihoodScorer.Score want = expected(sequences.get(i));
                    LoglikelihoodScorer.Score got = scores.get(i);
                    String where = "sequence " + i + ", batch " + batchTokens + ", group bytes " + groupBytes;
                    assertEquals(want.logLikelihood(), got.logLikelihood(), 1e-9, where);
                    assertEquals(want.scoredTokens(), got.scoredTokens(), where);
                    assertEquals(want.greedy(), got.greedy(), where);
                }
            }
        }
    }

    @Test
    void batchesHoldSortedSequencesWithinTheTokenBudget() {
        List<LoglikelihoodScorer.Sequence> sequences = sequences();
        // Input lengths (tokens - 1): 8, 2, 12, 1, 6, 6, 10, 4.
        List<int[]> batches = LoglikelihoodScorer.batches(sequences, 24);
        assertEquals(List.of("[2, 6]", "[0, 4, 5]", "[7, 1, 3]"), batches.stream().map(Arrays::toString).toList());
        assertArrayEquals(new int[] {2, 6, 0, 4, 5, 7, 1, 3},
                LoglikelihoodScorer.batches(sequences, 1).stream().mapToInt(b -> b[0]).toArray());
    }

    @Test
    void perplexityWindowsAndChoicesAreSequences() {
        int[] corpus = TinyModels.randomIds(CONFIG, 1, 40, 7)[0];
        List<PerplexityWindow> windows = PerplexityProtocol.sliding(12, 5).windows(corpus);
        LoglikelihoodScorer scorer = new LoglikelihoodScorer(model, 30);
        PerplexityResult result = scorer.perplexity(windows);
        double nll = 0;
        for (PerplexityWindow w : windows) {
            nll -= expected(LoglikelihoodScorer.Sequence.of(w)).logLikelihood();
        }
        assertEquals(39, result.count(), "every token but the first is scored once");
        assertEquals(nll, result.sumNll(), 1e-9);

        LoglikelihoodRequest request = new LoglikelihoodRequest("t#1", 2, new int[] {5, 6, 7}, new int[] {8, 9});
        LoglikelihoodScorer.Sequence joined = LoglikelihoodScorer.Sequence.of(request);
        assertArrayEquals(new int[] {5, 6, 7, 8, 9}, joined.tokens());
        assertEquals(3, joined.firstScored());
        assertArrayEquals(request.inputIds(), Arrays.copyOf(joined.tokens(), joined.inputLength()));
        ChoiceLoglikelihood ll = scorer.loglikelihoods(List.of(request)).get(0);
        assertEquals("t#1", ll.docKey());
        assertEquals(2, ll.choiceIndex());
        assertEquals(expected(joined).logLikelihood(), ll.loglikelihood(), 1e-9);
    }

    @Test
    void greedyIsTrueExactlyWhenEveryScoredTokenIsTheArgmax() {
        int[] prefix = {3, 14, 15};
        // Extend the prefix greedily with the reference, then spoil the last token.
        int[] tokens = Arrays.copyOf(prefix, 6);
        for (int p = prefix.length; p < tokens.length; p++) {
            double[] row = reference.logits(new int[][] {Arrays.copyOf(tokens, p)}, null)[0][p - 1];
            int argmax = 0;
            for (int v = 1; v < row.length; v++) {
                argmax = row[v] > row[argmax] ? v : argmax;
            }
            tokens[p] = argmax;
        }
        int[] spoiled = tokens.clone();
        spoiled[5] = (spoiled[5] + 1) % CONFIG.vocabSize();
        List<LoglikelihoodScorer.Score> scores = new LoglikelihoodScorer(model, 100).score(List.of(
                new LoglikelihoodScorer.Sequence(tokens, 3), new LoglikelihoodScorer.Sequence(spoiled, 3)));
        assertTrue(scores.get(0).greedy());
        assertFalse(scores.get(1).greedy());
        assertTrue(scores.get(0).logLikelihood() > scores.get(1).logLikelihood());
    }
}
