package dev.spruce.eval.scoring;

import dev.spruce.data.TokenSample;
import dev.spruce.eval.tasks.LoglikelihoodRequest;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.ModelRef;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

/**
 * Scores sequences on the executors with their resident model ({@link ExecutorModels}). Requests are built on
 * the driver (the perplexity protocol tokenizes the joined corpus as one string, and tokenizing a few thousand
 * task documents is cheap) and travel as a {@code Dataset<TokenSample>}: id = the sequence's index, tokens,
 * promptLength = the first scored position. Each partition is batched by length by a
 * {@link LoglikelihoodScorer}; the driver collects one small row per sequence and adds them up in index order,
 * so the result does not depend on how the sequences were partitioned.
 */
public final class DistributedEvaluation {
    private final SparkSession spark;
    private final ModelRef model;
    private final int partitions;
    private final int batchTokens;

    /**
     * @param partitions  Spark tasks per scoring job; 0 = the cluster's default parallelism
     * @param batchTokens padded tokens per forward batch on an executor
     */
    public DistributedEvaluation(SparkSession spark, ModelRef model, int partitions, int batchTokens) {
        if (partitions < 0) {
            throw new IllegalArgumentException("partitions must be >= 0 (0 = Spark's default parallelism), got "
                    + partitions);
        }
        if (batchTokens < 1) {
            throw new IllegalArgumentException("batchTokens must be positive, got " + batchTokens);
        }
        this.spark = spark;
        this.model = model;
        this.partitions = partitions;
        this.batchTokens = batchTokens;
    }

    /** The perplexity sums of the windows. */
    public PerplexityResult perplexity(List<PerplexityWindow> windows) {
        return LoglikelihoodScorer.sumNll(score(windows.stream().map(LoglikelihoodScorer.Sequence::of).toList()));
    }

    /** The continuation log-likelihood of every request, in request order. */
    public List<ChoiceLoglikelihood> loglikelihoods(List<LoglikelihoodRequest> requests) {
        return LoglikelihoodScorer.choiceLoglikelihoods(requests,
                score(requests.stream().map(LoglikelihoodScorer.Sequence::of).toList()));
    }

    /** Scores the sequences on the executors; the result has the order of {@code sequences}. */
    public List<LoglikelihoodScorer.Score> score(List<LoglikelihoodScorer.Sequence> sequences) {
        if (sequences.isEmpty()) {
            return List.of();
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int slices = Math.min(sequences.size(), partitions > 0 ? partitions : sc.defaultParallelism());
        JavaRDD<TokenSample> rdd = sc.parallelize(dealt(sequences, slices), slices);
        Dataset<TokenSample> samples = spark.createDataset(rdd.rdd(), Encoders.bean(TokenSample.class));
        ModelRef ref = model;
        int budget = batchTokens;
        List<ScoreRow> rows = samples
                .mapPartitions((MapPartitionsFunction<TokenSample, ScoreRow>) it -> scorePartition(it, ref, budget),
                        Encoders.bean(ScoreRow.class))
                .collectAsList();
        LoglikelihoodScorer.Score[] scores = new LoglikelihoodScorer.Score[sequences.size()];
        for (ScoreRow row : rows) {
            int i = Math.toIntExact(row.getId());
            if (scores[i] != null) {
                throw new IllegalStateException("sequence " + i + " was scored twice");
            }
            scores[i] = new LoglikelihoodScorer.Score(row.getLogLikelihood(), row.getScoredTokens(), row.isGreedy());
        }
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] == null) {
                throw new IllegalStateException("sequence " + i + " of " + scores.length + " was not scored");
            }
        }
        return Arrays.asList(scores);
    }

    /** Frees the resident model on the executors ({@link ExecutorModels#releaseEverywhere}). */
    public void release() {
        ExecutorModels.releaseEverywhere(spark, model);
    }

    /**
     * The samples ordered so that Spark's contiguous slicing gives each partition every {@code slices}-th
     * sequence by length: partitions get similar work, and each still holds a spread of lengths to batch.
     */
    static List<TokenSample> dealt(List<LoglikelihoodScorer.Sequence> sequences, int slices) {
        Integer[] byLength = IntStream.range(0, sequences.size()).boxed().toArray(Integer[]::new);
        Arrays.sort(byLength, (a, b) -> Integer.compare(sequences.get(b).inputLength(), sequences.get(a).inputLength()));
        List<TokenSample> out = new ArrayList<>(sequences.size());
        for (int slice = 0; slice < slices; slice++) {
            for (int rank = slice; rank < byLength.length; rank += slices) {
                int i = byLength[rank];
                LoglikelihoodScorer.Sequence s = sequences.get(i);
                out.add(new TokenSample(i, s.tokens(), s.firstScored()));
            }
        }
        return out;
    }

    private static Iterator<ScoreRow> scorePartition(Iterator<TokenSample> it, ModelRef ref, int batchTokens) {
        List<Long> ids = new ArrayList<>();
        List<LoglikelihoodScorer.Sequence> sequences = new ArrayList<>();
        it.forEachRemaining(sample -> {
            ids.add(sample.getId());
            sequences.add(new LoglikelihoodScorer.Sequence(sample.getTokens(), sample.getPromptLength()));
        });
        if (sequences.isEmpty()) {
            return List.<ScoreRow>of().iterator();
        }
        List<LoglikelihoodScorer.Score> scores = new LoglikelihoodScorer(ExecutorModels.get(ref), batchTokens)
                .score(sequences);
        List<ScoreRow> rows = new ArrayList<>(scores.size());
        for (int i = 0; i < scores.size(); i++) {
            LoglikelihoodScorer.Score s = scores.get(i);
            rows.add(new ScoreRow(ids.get(i), s.logLikelihood(), s.scoredTokens(), s.greedy()));
        }
        return rows.iterator();
    }

    /** One scored sequence on its way to the driver: a bean, so Spark encodes it without Kryo. */
    public static final class ScoreRow implements Serializable {
        private static final long serialVersionUID = 1L;

        private long id;
        private double logLikelihood;
        private int scoredTokens;
        private boolean greedy;

        public ScoreRow() {}

        public ScoreRow(long id, double logLikelihood, int scoredTokens, boolean greedy) {
            this.id = id;
            this.logLikelihood = logLikelihood;
            this.scoredTokens = scoredTokens;
            this.greedy = greedy;
        }

        public long getId() {
            return id;
        }

        public void setId(long id) {
            this.id = id;
        }

        public double getLogLikelihood() {
            return logLikelihood;
        }

        public void setLogLikelihood(double logLikelihood) {
            this.logLikelihood = logLikelihood;
        }

        public int getScoredTokens() {
            return scoredTokens;
        }

        public void setScoredTokens(int scoredTokens) {
            this.scoredTokens = scoredTokens;
        }

        public boolean isGreedy() {
            return greedy;
        }

        public void setGreedy(boolean greedy) {
            this.greedy = greedy;
        }
    }
}
