package dev.spruce.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.SparkSessions;
import dev.spruce.spark.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * Float32 traffic and the result-size bound, on a Spark local session of its own whose
 * {@code spark.driver.maxResultSize} is 2 MiB: what Spark really sends the driver is measured by a listener and
 * checked against the trainer's estimate and the limit.
 */
class TrainerTrafficTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);
    private static final long LIMIT = 2L << 20;

    @TempDir
    static Path dir;
    static ModelRef model32;
    static ModelRef model64;
    static SparkSession spark;

    @BeforeAll
    static void start() {
        TestSpark.stop(); // spark.driver.maxResultSize is fixed when a SparkContext starts
        spark = SparkSessions.create("spruce-traffic-test", "local[2,2]", false, Map.of(
                "spark.driver.maxResultSize", Long.toString(LIMIT), "spark.driver.bindAddress", "127.0.0.1",
                "spark.sql.shuffle.partitions", "4"));
        spark.sparkContext().setLogLevel("WARN");
        Map<String, double[]> weights = TinyModels.randomWeights(CONFIG, 31);
        Path f32 = dir.resolve("model-f32");
        ModelFiles.write(Fs.path(f32.toString()), CONFIG, WeightSource.of(CONFIG, weights), DType.F32, null, false);
        model32 = new ModelRef(f32.toString(), "float32", true);
        Path f64 = dir.resolve("model-f64");
        ModelFiles.write(Fs.path(f64.toString()), CONFIG, WeightSource.of(CONFIG, weights), DType.F64, null, false);
        model64 = new ModelRef(f64.toString(), "float64", true);
    }

    @AfterAll
    static void stop() {
        spark.stop();
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
    }

    static List<TokenSample> samples(int count) {
        SplittableRandom random = new SplittableRandom(23);
        List<TokenSample> samples = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] tokens = new int[5 + random.nextInt(7)];
            for (int t = 0; t < tokens.length; t++) {
                tokens[t] = random.nextInt(CONFIG.vocabSize());
            }
            samples.add(new TokenSample(500 + 3L * i, tokens, i % 4 == 0 ? 2 : 0));
        }
        return samples;
    }

    static Dataset<TokenSample> dataset(List<TokenSample> samples) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return spark.createDataset(sc.parallelize(samples, 2).rdd(), Encoders.bean(TokenSample.class));
    }

    static Trainer trainer(ModelRef model, Trainable trainable, TrainSettings settings, String out) {
        return new Trainer(spark, model, trainable, settings, Fs.path(dir.resolve(out).toString()));
    }

    /** LoRA parameters per layer of the tiny model: rank × (in + out) of each of the seven linear modules. */
    static long loraParameters(int rank) {
        int h = TinyModels.HIDDEN;
        int q = CONFIG.numAttentionHeads() * TinyModels.HEAD_DIM;
        int kv = CONFIG.numKeyValueHeads() * TinyModels.HEAD_DIM;
        int f = TinyModels.INTERMEDIATE;
        long perLayer = (h + q) + (h + kv) + (h + kv) + (q + h) + (h + f) + (h + f) + (f + h);
        return CONFIG.numHiddenLayers() * perLayer * rank;
    }

    static double maxAbsDifference(Map<String, double[]> a, Map<String, double[]> b) {
        double max = 0;
        for (Map.Entry<String, double[]> e : a.entrySet()) {
            double[] other = b.get(e.getKey());
            for (int i = 0; i < other.length; i++) {
                max = Math.max(max, Math.abs(e.getValue()[i] - other[i]));
            }
        }
        return max;
    }

    @Test
    void float32TrafficTrainsLikeFloat64TrafficWithinFloat32Precision() {
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(2, 4, 0.2, LoraSettings.ALL_LINEAR));
        TrainSettings settings = TrainSettings.builder().globalBatch(6).microBatch(2).maxSteps(4).learningRate(0.02)
                .warmupSteps(0).validationSize(4).evalEvery(2).saveEvery(100).seed(7).partitions(3).build();
        List<TokenSample> samples = samples(22);
        Trainer narrow = trainer(model32, lora, settings, "traffic-f32");
        Trainer wide = trainer(model32, lora, settings, "traffic-f64").traffic(Traffic.FLOAT64);
        assertEquals(Traffic.FLOAT32, narrow.traffic(), "a float32 model's traffic");
        assertEquals(Traffic.FLOAT64, trainer(model64, lora, settings, "unused").traffic(), "a float64 model's");
        TrainResult a = narrow.train(dataset(samples));
        TrainResult b = wide.train(dataset(samples));

        assertTrue(maxAbsDifference(lora.initialValues(7), a.parameters()) > 1e-3, "training did not move");
        int normsDiffering = 0;
        for (int s = 0; s < 4; s++) {
            TrainingMetrics.Row ra = a.metrics().rows().get(s);
            TrainingMetrics.Row rb = b.metrics().rows().get(s);
            assertEquals(rb.tokens(), ra.tokens());
            assertEquals(rb.trainLoss(), ra.trainLoss(), 1e-5 * rb.trainLoss(), "loss of step " + (s + 1));
            assertEquals(rb.gradNorm(), ra.gradNorm(), 1e-5 * rb.gradNorm(), "grad norm of step " + (s + 1));
            normsDiffering += ra.gradNorm() != rb.gradNorm() ? 1 : 0;
        }
        assertEquals(b.bestValidationLoss(), a.bestValidationLoss(), 1e-5 * b.bestValidationLoss());
        // Adam's steps are lr-sized whatever the gradient's scale: 4 steps of lr 0.02 move a value by up to 0.08,
        // and float32 rounding of the gradients may change that by a few 1e-7 relative per step.
        double difference = maxAbsDifference(b.parameters(), a.parameters());
        assertTrue(difference < 1e-5, "float32 traffic moved the LoRA values " + difference + " from float64's");
        // Step 1 sees the same leaves either way (the model rounds float64 values to float32 itself), but its
        // gradients reach the driver rounded to float32 or not: the two paths are not the same by construction.
        assertTrue(normsDiffering > 0, "float32 and float64 traffic gave bit-identical gradient norms");
        assertTrue(difference > 0, "float32 and float64 traffic gave bit-identical parameters");
    }

    /** What tasks sent the driver, per stage, as Spark reports it ({@code resultSize}: the whole serialized result). */
    static final class ResultSizes extends SparkListener {
        final Map<Integer, long[]> stages = new ConcurrentHashMap<>();
        final AtomicInteger jobs = new AtomicInteger();
        final String markerGroup = "result-sizes-" + UUID.randomUUID();
        final CountDownLatch marker = new CountDownLatch(1);

        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
            if (end.taskMetrics() == null) {
                return;
            }
            long size = end.taskMetrics().resultSize();
            stages.merge(end.stageId(), new long[] {1, size, size},
                    (a, b) -> new long[] {a[0] + b[0], a[1] + b[1], Math.max(a[2], b[2])});
        }

        @Override
        public void onJobStart(SparkListenerJobStart start) {
            Properties p = start.properties();
            if (p != null && markerGroup.equals(p.getProperty("spark.jobGroup.id"))) {
                marker.countDown();
            } else {
                jobs.incrementAndGet();
            }
        }

        long largestResult() {
            return stages.values().stream().mapToLong(s -> s[2]).max().orElse(0);
        }

        long largestStageTotal() {
            return stages.values().stream().mapToLong(s -> s[1]).max().orElse(0);
        }
    }

    /** Runs {@code action} and returns what its tasks sent the driver, once the listener has seen all of it. */
    static ResultSizes recordResults(Runnable action) throws InterruptedException {
        ResultSizes sizes = new ResultSizes();
        spark.sparkContext().addSparkListener(sizes);
        try {
            action.run();
            // Events arrive in order: once the marker job's start is seen, every earlier task end has been.
            spark.sparkContext().setJobGroup(sizes.markerGroup, "marker", false);
            try {
                JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(List.of(1), 1).count();
            } finally {
                spark.sparkContext().clearJobGroup();
            }
            assertTrue(sizes.marker.await(60, TimeUnit.SECONDS), "the marker job never reached the listener");
        } finally {
            spark.sparkContext().removeSparkListener(sizes);
        }
        return sizes;
    }

    @Test
    void manyPartitionsUnderASmallMaxResultSizeAddUpInATreeThatFitsTheDriver() throws InterruptedException {
        int rank = 32;
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(rank, 64, 0.0, LoraSettings.ALL_LINEAR));
        TrainSettings settings = TrainSettings.builder().globalBatch(96).microBatch(2).maxSteps(2).learningRate(0.01)
                .warmupSteps(1).validationSize(8).evalEvery(2).saveEvery(100).seed(11).partitions(48).build();
        Trainer trainer = trainer(model32, lora, settings, "tree-48");
        OrderedReduction.Plan plan = trainer.gradientPlan(48);
        long payload = loraParameters(rank) * Float.BYTES;
        int arrays = 2 * 7 * CONFIG.numHiddenLayers();
        assertEquals(payload + arrays * OrderedReduction.ARRAY_OVERHEAD_BYTES + OrderedReduction.RESULT_OVERHEAD_BYTES,
                plan.resultBytes(), plan.describe());
        assertTrue(plan.flatBytes() > LIMIT, "48 results would fit a flat collect: " + plan.describe());
        assertTrue(plan.depth() > 1, plan.describe());
        assertTrue(plan.driverBytes() <= LIMIT / 2, plan.describe());

        TrainResult[] tree = new TrainResult[1];
        ResultSizes sizes = recordResults(() -> tree[0] = trainer.train(dataset(samples(120))));
        assertTrue(sizes.largestResult() > payload, "no task result carried the gradients: " + sizes.largestResult());
        assertTrue(sizes.largestResult() <= plan.resultBytes(), "a task result of " + sizes.largestResult()
                + " bytes exceeds the estimate " + plan.resultBytes());
        assertTrue(sizes.largestStageTotal() <= LIMIT / 2, "one stage sent the driver " + sizes.largestStageTotal());

        TrainResult flat = trainer(model32, lora, settings.toBuilder().partitions(2).build(), "flat-2")
                .train(dataset(samples(120)));
        assertEquals(1, trainer.gradientPlan(2).depth());
        for (int s = 0; s < 2; s++) {
            double expected = flat.metrics().rows().get(s).trainLoss();
            assertEquals(expected, tree[0].metrics().rows().get(s).trainLoss(), 1e-5 * expected, "loss of step " + (s + 1));
        }
        assertEquals(flat.bestValidationLoss(), tree[0].bestValidationLoss(), 1e-5 * flat.bestValidationLoss());
        double difference = maxAbsDifference(flat.parameters(), tree[0].parameters());
        assertTrue(difference < 1e-5, "48 partitions in a tree moved the LoRA values " + difference
                + " from 2 partitions'");
    }

    /** Partial {@code index}: float32 gradients of {@code sizes} drawn from the index, as a task would ship them. */
    static StepTotals partial(int index, int[] sizes) {
        SplittableRandom random = new SplittableRandom(1000 + index);
        double[][] g = new double[sizes.length][];
        for (int p = 0; p < sizes.length; p++) {
            g[p] = new double[sizes[p]];
            for (int i = 0; i < sizes[p]; i++) {
                g[p][i] = (float) (random.nextGaussian() * Math.exp(4 * random.nextGaussian()));
            }
        }
        return new StepTotals(g, index, 1, 1, 0).narrowed();
    }

    @Test
    void aFlatCollectOfTheSamePartialsExceedsTheLimitWhereTheTreeAddsThemInOrder() throws Exception {
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(32, 64, 0.0, LoraSettings.ALL_LINEAR));
        ParameterLayout layout = ParameterLayout.of(lora);
        int[] sizes = new int[layout.names().size()];
        for (int p = 0; p < sizes.length; p++) {
            sizes[p] = layout.size(p);
        }
        int n = 48;
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            indices.add(i);
        }
        JavaPairRDD<Integer, StepTotals> partials = sc.parallelize(indices, n)
                .mapToPair(i -> new Tuple2<>(i, partial(i, sizes)));
        OrderedReduction.Plan tree = OrderedReduction.plan(n, OrderedReduction.resultBytes(layout, Traffic.FLOAT32,
                true), LIMIT);
        assertEquals(2, tree.depth(), tree.describe());

        StepTotals sum = OrderedReduction.reduce(partials, tree, Traffic.FLOAT32);
        assertEquals(n * (n - 1) / 2.0, sum.loss(), 0.0);
        assertEquals(n, sum.tokens());
        // Plain float64 sums of the same float32 values; the tree rounds its 12 group sums to float32 once each.
        double[][] expected = new double[sizes.length][];
        double[][] magnitude = new double[sizes.length][];
        for (int p = 0; p < sizes.length; p++) {
            expected[p] = new double[sizes[p]];
            magnitude[p] = new double[sizes[p]];
        }
        for (int j = 0; j < n; j++) {
            double[][] g = partial(j, sizes).gradients();
            for (int p = 0; p < sizes.length; p++) {
                for (int i = 0; i < sizes[p]; i++) {
                    expected[p][i] += g[p][i];
                    magnitude[p][i] += Math.abs(g[p][i]);
                }
            }
        }
        double[][] actual = sum.gradients();
        for (int p = 0; p < sizes.length; p++) {
            for (int i = 0; i < sizes[p]; i++) {
                assertEquals(expected[p][i], actual[p][i], 1.2e-7 * magnitude[p][i], layout.names().get(p) + "[" + i
                        + "]");
            }
        }
        // In partition order whatever order the tasks finish in: bit-identical on a second run.
        double[][] again = OrderedReduction.reduce(partials, tree, Traffic.FLOAT32).gradients();
        for (int p = 0; p < sizes.length; p++) {
            assertArrayEquals(actual[p], again[p], layout.names().get(p));
        }

        OrderedReduction.Plan flat = new OrderedReduction.Plan(n, tree.resultBytes(), LIMIT, 0, 1);
        Exception refused = assertThrows(Exception.class, () -> OrderedReduction.reduce(partials, flat,
                Traffic.FLOAT32));
        assertTrue(String.valueOf(refused.getMessage()).contains("bigger than spark.driver.maxResultSize"),
                String.valueOf(refused.getMessage()));
    }

    @Test
    void gradientsThatCannotReachTheDriverAreRefusedBeforeAnySparkJobWithTheSizes() throws InterruptedException {
        int vocab = 20_000;
        LlamaConfig wide = TinyModels.builder(2, 4, 2).vocabSize(vocab).build();
        int h = TinyModels.HIDDEN;
        int f = TinyModels.INTERMEDIATE;
        int q = 4 * TinyModels.HEAD_DIM;
        int kv = 2 * TinyModels.HEAD_DIM;
        // Embeddings and LM head, per layer q/k/v/o, gate/up/down and two norms, the final norm.
        long parameters = 2L * vocab * h + 2L * (h * q + 2L * h * kv + q * h + 3L * h * f + 2L * h) + h;
        long arrays = 3 + 2 * 9;
        long bytes = parameters * Float.BYTES + arrays * OrderedReduction.ARRAY_OVERHEAD_BYTES
                + OrderedReduction.RESULT_OVERHEAD_BYTES;
        TrainSettings settings = TrainSettings.builder().globalBatch(4).maxSteps(1).validationSize(0).partitions(2)
                .build();
        Path out = dir.resolve("refused-full");
        String[] message = new String[1];
        ResultSizes sizes = recordResults(() -> message[0] = assertThrows(IllegalArgumentException.class,
                () -> trainer(model32, new FullTrainable(wide), settings, "refused-full").train(dataset(samples(8))))
                .getMessage());
        assertTrue(message[0].contains(String.format(Locale.ROOT, "one task's gradients of %,d trainable parameters take up to "
                + "%,d bytes as float32, more than half of spark.driver.maxResultSize = %,d bytes", parameters, bytes,
                LIMIT)), message[0]);
        assertTrue(message[0].contains("spruce.recover.trainable = lora"), message[0]);
        assertTrue(message[0].contains(String.format(Locale.ROOT, "set spark.driver.maxResultSize to at least %,d bytes",
                2 * bytes)), message[0]);
        assertEquals(0, sizes.jobs.get(), "Spark jobs ran before the refusal");
        assertFalse(Files.exists(out), out + " was created");

        // LoRA of a rank whose adapters are larger than the budget: the advice is fewer or smaller adapters.
        LoraTrainable huge = new LoraTrainable(CONFIG, new LoraSettings(1200, 16, 0.0, LoraSettings.ALL_LINEAR));
        IllegalArgumentException lora = assertThrows(IllegalArgumentException.class,
                () -> trainer(model32, huge, settings, "refused-lora").train(dataset(samples(8))));
        assertTrue(lora.getMessage().contains(String.format(Locale.ROOT, "gradients of %,d trainable parameters",
                loraParameters(1200))), lora.getMessage());
        assertTrue(lora.getMessage().contains("spruce.recover.lora.target-modules"), lora.getMessage());
        // float64 traffic doubles the bytes: rank-400 adapters (742,400 bytes as float32) fit only as float32.
        LoraTrainable mid = new LoraTrainable(CONFIG, new LoraSettings(400, 16, 0.0, LoraSettings.ALL_LINEAR));
        assertEquals(1, trainer(model32, mid, settings, "mid").gradientPlan(1).driverResults());
        assertThrows(IllegalArgumentException.class, () -> trainer(model64, mid, settings, "mid").gradientPlan(1));
    }
}
