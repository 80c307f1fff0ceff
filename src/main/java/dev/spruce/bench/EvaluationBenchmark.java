package dev.spruce.bench;

import dev.spruce.eval.scoring.DistributedEvaluation;
import dev.spruce.eval.tasks.LoglikelihoodRequest;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.report.TextTable;
import dev.spruce.spark.ModelRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.apache.spark.sql.SparkSession;

/**
 * Throughput of distributed scoring ({@link DistributedEvaluation}) on random token data: perplexity windows of
 * {@code length} tokens, and multiple-choice requests of four choices with a context of half to all of
 * {@code length} tokens and a continuation of 1 to {@code length/8} tokens (lengths vary, as in real tasks, so
 * batching by length matters). Each measurement follows one untimed warm-up run, which loads the model on the
 * executors; the reported time is the median of the timed runs.
 */
public final class EvaluationBenchmark {
    /** Choices per multiple-choice document (HellaSwag and ARC have four). */
    static final int CHOICES = 4;

    /**
     * @param requests    perplexity windows, and multiple-choice requests (choices), per run
     * @param length      tokens per perplexity window; the longest multiple-choice request
     * @param batchTokens padded tokens per forward batch
     * @param repeats     timed runs per measurement
     */
    public record Settings(int requests, int length, int batchTokens, int repeats, long seed) {
        public Settings {
            if (requests < 1 || length < 8 || batchTokens < 1 || repeats < 1) {
                throw new IllegalArgumentException("benchmark needs requests >= 1, length >= 8, batchTokens >= 1 and "
                        + "repeats >= 1, got " + requests + ", " + length + ", " + batchTokens + ", " + repeats);
            }
        }
    }

    /** One workload at one partition count: {@code tokens} is what the model read (inputs, padding excluded). */
    public record Measurement(String workload, int partitions, long requests, long tokens, double seconds) {
        public double requestsPerSecond() {
            return requests / seconds;
        }

        public double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    private EvaluationBenchmark() {}

    /** Measures perplexity and multiple-choice scoring at each partition count. */
    public static List<Measurement> run(SparkSession spark, ModelRef model, int vocabSize, Settings s,
                                        List<Integer> partitionCounts) {
        List<PerplexityWindow> windows = perplexityWindows(vocabSize, s);
        List<LoglikelihoodRequest> requests = choiceRequests(vocabSize, s);
        long windowTokens = windows.stream().mapToLong(w -> w.ids().length - 1).sum();
        long requestTokens = requests.stream().mapToLong(r -> r.inputIds().length).sum();
        List<Measurement> out = new ArrayList<>();
        for (int partitions : partitionCounts) {
            DistributedEvaluation scoring = new DistributedEvaluation(spark, model, partitions, s.batchTokens());
            out.add(new Measurement("perplexity", partitions, windows.size(), windowTokens,
                    medianSeconds(s.repeats(), () -> scoring.perplexity(windows))));
            out.add(new Measurement("multiple choice", partitions, requests.size(), requestTokens,
                    medianSeconds(s.repeats(), () -> scoring.loglikelihoods(requests))));
        }
        return out;
    }

    /** {@code requests} non-overlapping windows of {@code length} tokens from one random corpus. */
    static List<PerplexityWindow> perplexityWindows(int vocabSize, Settings s) {
        SplittableRandom random = new SplittableRandom(s.seed());
        int[] corpus = random.ints((long) s.requests() * s.length(), 0, vocabSize).toArray();
        return PerplexityProtocol.nonOverlapping(s.length()).windows(corpus);
    }

    /** {@code requests} choices, {@value #CHOICES} per document, with random contexts and continuations. */
    static List<LoglikelihoodRequest> choiceRequests(int vocabSize, Settings s) {
        SplittableRandom random = new SplittableRandom(s.seed() + 1);
        int maxContinuation = Math.max(1, s.length() / 8);
        List<LoglikelihoodRequest> requests = new ArrayList<>(s.requests());
        int[] context = null;
        for (int i = 0; i < s.requests(); i++) {
            if (i % CHOICES == 0) {
                context = random.ints(random.nextInt(s.length() / 2, s.length() - maxContinuation + 1), 0, vocabSize)
                        .toArray();
            }
            int[] continuation = random.ints(random.nextInt(1, maxContinuation + 1), 0, vocabSize).toArray();
            requests.add(new LoglikelihoodRequest("bench#" + i / CHOICES, i % CHOICES, context, continuation));
        }
        return requests;
    }

    private static double medianSeconds(int repeats, Supplier<?> work) {
        work.get();
        double[] seconds = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long start = System.nanoTime();
            work.get();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        return Median.of(seconds);
    }

    /** The results as a fixed-width table. */
    public static String table(List<Measurement> measurements) {
        TextTable table = new TextTable(List.of("workload", "partitions", "requests", "tokens", "seconds",
                "requests/s", "tokens/s"));
        for (Measurement m : measurements) {
            table.addRow(List.of(m.workload(), Integer.toString(m.partitions()), Long.toString(m.requests()),
                    Long.toString(m.tokens()), String.format(Locale.ROOT, "%.3f", m.seconds()),
                    String.format(Locale.ROOT, "%.1f", m.requestsPerSecond()),
                    String.format(Locale.ROOT, "%.0f", m.tokensPerSecond())));
        }
        return table.text();
    }
}
