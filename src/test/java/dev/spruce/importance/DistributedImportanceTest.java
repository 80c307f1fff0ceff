package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.prune.PlanSettings;
import dev.spruce.prune.Planner;
import dev.spruce.prune.PrunePlan;
import dev.spruce.scope.LayerRange;
import dev.spruce.spark.FailureInjection;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.TestSpark;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Invariant 4: importance from P partitions equals the single-node computation. */
class DistributedImportanceTest {
    private static final LlamaConfig CONFIG = TinyModels.config(4, 4, 2);
    private static final ScoringSettings SETTINGS = ScoringSettings.blockWise(Criterion.PARAM_MIX,
            new LayerRange(1, 3), new LayerRange(1, 4));

    @TempDir
    static Path dir;
    static String modelPath;
    static List<int[]> samples;
    static SparkSession spark;

    @BeforeAll
    static void writeModel() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 12);
        modelPath = dir.resolve("model").toString();
        ModelFiles.write(Fs.path(modelPath), CONFIG, WeightSource.of(CONFIG, w), DType.F64, null, false);
        samples = new ArrayList<>(List.of(TinyModels.randomIds(CONFIG, 7, 9, 3)));
        spark = TestSpark.session();
    }

    private static Dataset<TokenSample> dataset(int partitions) {
        List<TokenSample> list = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            list.add(TokenSample.of(i, samples.get(i)));
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return spark.createDataset(sc.parallelize(list, partitions).rdd(), Encoders.bean(TokenSample.class));
    }

    private static DistributedImportance.Result distributed(ScoringSettings s, int partitions, int blockElements) {
        try (SafetensorsModel st = SafetensorsModel.open(Fs.path(modelPath))) {
            return DistributedImportance.run(spark, new ModelRef(modelPath, "float64", true), CONFIG,
                    ModelFiles.weights(st), dataset(partitions), s, 2, 0, blockElements);
        }
    }

    private static ImportanceScores singleNode(ScoringSettings s) {
        try (LlamaModel model = ModelFiles.load(Fs.path(modelPath), DataType.FLOAT64, Device.cpu())) {
            return ImportanceEstimator.estimate(model, samples, s, 3);
        }
    }

    static void assertScoresEqual(ImportanceScores expected, ImportanceScores actual, String what) {
        for (int l = 0; l < CONFIG.numHiddenLayers(); l++) {
            assertRelative(expected.attention()[l], actual.attention()[l], what + " attention layer " + l);
            assertRelative(expected.mlp()[l], actual.mlp()[l], what + " mlp layer " + l);
        }
    }

    private static void assertRelative(double[] expected, double[] actual, String what) {
        if (expected == null) {
            assertEquals(null, actual, what);
            return;
        }
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-6 * Math.abs(expected[i]) + 1e-300, what + "[" + i + "]");
        }
    }

    @Test
    void oneTwoFourAndUnevenPartitionsEqualTheSingleNode() {
        ImportanceScores single = singleNode(SETTINGS);
        PlanSettings plan = PlanSettings.builder().ratio(0.5).attentionLayers(new LayerRange(1, 3))
                .mlpLayers(new LayerRange(1, 4)).build();
        PrunePlan expectedPlan = Planner.plan(CONFIG, single, plan);
        // 7 samples over 3 partitions is 2+2+3; a 40-element block splits every tensor into several blocks.
        for (int partitions : new int[] {1, 2, 3, 4}) {
            DistributedImportance.Result r = distributed(SETTINGS, partitions, 40);
            assertEquals(7, r.samples());
            assertEquals(7 * 8, r.tokens());
            assertScoresEqual(single, r.scores(), partitions + " partitions");
            PrunePlan plan2 = Planner.plan(CONFIG, r.scores(), plan);
            for (int l = 0; l < CONFIG.numHiddenLayers(); l++) {
                assertArrayEquals(expectedPlan.layer(l).keptKvGroups(), plan2.layer(l).keptKvGroups());
                assertArrayEquals(expectedPlan.layer(l).keptChannels(), plan2.layer(l).keptChannels());
            }
        }
    }

    @Test
    void everyTaylorCriterionAgreesWithTheSingleNode() {
        for (Criterion c : new Criterion[] {Criterion.VECTORIZE, Criterion.PARAM_FIRST, Criterion.PARAM_SECOND}) {
            ScoringSettings s = ScoringSettings.blockWise(c, new LayerRange(0, 4), new LayerRange(0, 4));
            assertScoresEqual(singleNode(s), distributed(s, 3, DistributedImportance.DEFAULT_BLOCK_ELEMENTS)
                    .scores(), c.toString());
        }
    }

    @Test
    void aCountFromTheCallerSavesTheCountJobAndAWrongOneIsRefused() throws Exception {
        java.util.concurrent.atomic.AtomicInteger jobs = new java.util.concurrent.atomic.AtomicInteger();
        org.apache.spark.scheduler.SparkListener listener = new org.apache.spark.scheduler.SparkListener() {
            @Override
            public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart job) {
                jobs.incrementAndGet();
            }
        };
        spark.sparkContext().addSparkListener(listener);
        DistributedImportance.Result counted;
        DistributedImportance.Result told;
        int countingJobs;
        int toldJobs;
        try (SafetensorsModel st = SafetensorsModel.open(Fs.path(modelPath))) {
            ModelRef ref = new ModelRef(modelPath, "float64", true);
            counted = DistributedImportance.run(spark, ref, CONFIG, ModelFiles.weights(st), dataset(2), SETTINGS, 2,
                    0, 64);
            spark.sparkContext().listenerBus().waitUntilEmpty();
            countingJobs = jobs.getAndSet(0);
            told = DistributedImportance.run(spark, ref, CONFIG, ModelFiles.weights(st), dataset(2), SETTINGS, 2, 0,
                    64, samples.size());
            spark.sparkContext().listenerBus().waitUntilEmpty();
            toldJobs = jobs.get();
            IllegalStateException wrong = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> DistributedImportance.run(spark, ref, CONFIG, ModelFiles.weights(st), dataset(2), SETTINGS,
                            2, 0, 64, samples.size() + 1));
            assertTrue(wrong.getMessage().contains("counted 8 calibration samples but the shards scored 7"),
                    wrong.getMessage());
        } finally {
            spark.sparkContext().removeSparkListener(listener);
        }
        assertTrue(toldJobs < countingJobs, toldJobs + " jobs with the count given, " + countingJobs + " without");
        for (int l = 0; l < CONFIG.numHiddenLayers(); l++) {
            // the same shards added in the same order: the same bits
            org.junit.jupiter.api.Assertions.assertArrayEquals(counted.scores().attention()[l],
                    told.scores().attention()[l], "attention layer " + l);
            org.junit.jupiter.api.Assertions.assertArrayEquals(counted.scores().mlp()[l], told.scores().mlp()[l],
                    "mlp layer " + l);
        }
    }

    @Test
    void aLoneShardSkipsTheShuffleAndGivesTheShuffledPathsBits() throws Exception {
        java.util.concurrent.atomic.AtomicLong shuffleBytes = new java.util.concurrent.atomic.AtomicLong();
        org.apache.spark.scheduler.SparkListener listener = new org.apache.spark.scheduler.SparkListener() {
            @Override
            public void onTaskEnd(org.apache.spark.scheduler.SparkListenerTaskEnd task) {
                if (task.taskMetrics() != null) {
                    shuffleBytes.addAndGet(task.taskMetrics().shuffleWriteMetrics().bytesWritten());
                }
            }
        };
        spark.sparkContext().addSparkListener(listener);
        try (SafetensorsModel st = SafetensorsModel.open(Fs.path(modelPath))) {
            for (String dtype : new String[] {"float64", "float32"}) {
                ModelRef ref = new ModelRef(modelPath, dtype, true);
                for (Criterion c : new Criterion[] {Criterion.PARAM_FIRST, Criterion.PARAM_MIX, Criterion.VECTORIZE}) {
                    ScoringSettings s = ScoringSettings.blockWise(c, new LayerRange(0, 4), new LayerRange(0, 4));
                    String what = dtype + " " + c;
                    // 40-element blocks: column-axis pieces are sums over several blocks; the count is given, since
                    // Dataset.count() shuffles its partial counts
                    spark.sparkContext().listenerBus().waitUntilEmpty();
                    shuffleBytes.set(0);
                    DistributedImportance.Result direct = DistributedImportance.run(spark, ref, CONFIG,
                            ModelFiles.weights(st), dataset(1), s, 2, 0, 40, samples.size(), false);
                    spark.sparkContext().listenerBus().waitUntilEmpty();
                    assertEquals(0, shuffleBytes.getAndSet(0), what + ": shuffle bytes of the lone shard");
                    DistributedImportance.Result shuffled = DistributedImportance.run(spark, ref, CONFIG,
                            ModelFiles.weights(st), dataset(1), s, 2, 0, 40, samples.size(), true);
                    spark.sparkContext().listenerBus().waitUntilEmpty();
                    assertTrue(shuffleBytes.get() > 1000, what + ": the shuffled path wrote " + shuffleBytes.get());
                    assertEquals(7, direct.samples(), what);
                    assertEquals(shuffled.tokens(), direct.tokens(), what);
                    for (int l = 0; l < CONFIG.numHiddenLayers(); l++) {
                        assertArrayEquals(shuffled.scores().attention()[l], direct.scores().attention()[l],
                                what + " attention layer " + l);
                        assertArrayEquals(shuffled.scores().mlp()[l], direct.scores().mlp()[l], what + " mlp layer " + l);
                    }
                }
            }
        } finally {
            spark.sparkContext().removeSparkListener(listener);
        }
    }

    @Test
    void sparkJobsCarryTheStageGroupAndADescription() {
        List<String> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        org.apache.spark.scheduler.SparkListener listener = new org.apache.spark.scheduler.SparkListener() {
            @Override
            public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart job) {
                seen.add(job.properties().getProperty("spark.jobGroup.id") + " | "
                        + job.properties().getProperty("spark.job.description"));
            }
        };
        spark.sparkContext().addSparkListener(listener);
        try {
            distributed(SETTINGS, 2, 64);
        } finally {
            spark.sparkContext().removeSparkListener(listener);
        }
        long deadline = System.currentTimeMillis() + 5000;
        while (seen.size() < 2 && System.currentTimeMillis() < deadline) {
            Thread.onSpinWait();
        }
        assertTrue(seen.contains("spruce-importance | importance: gradients and partial sums over 2 shards"),
                seen.toString());
        assertTrue(seen.contains("spruce-importance | importance: member vectors from the summed blocks of 2 shards"),
                seen.toString());
    }

    @Test
    void aTaskThatFailsOnceIsRetriedAndTheResultIsUnchanged() throws Exception {
        ImportanceScores clean = distributed(SETTINGS, 2, 64).scores();
        File marker = dir.resolve("fail-once.marker").toFile();
        spark.sparkContext().setLocalProperty(FailureInjection.PROPERTY_PREFIX + "importance", marker.getPath());
        try {
            DistributedImportance.Result retried = distributed(SETTINGS, 2, 64);
            assertTrue(marker.exists(), "the injected failure did not happen");
            assertScoresEqual(clean, retried.scores(), "after retry");
        } finally {
            spark.sparkContext().setLocalProperty(FailureInjection.PROPERTY_PREFIX + "importance", null);
        }
    }
}
