package dev.spruce.compresso;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.scope.LayerRange;
import dev.spruce.spark.FailureInjection;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.TestSpark;
import dev.spruce.train.GradientStep;
import dev.spruce.train.StepTotals;
import dev.spruce.train.TrainResult;
import dev.spruce.train.TrainSettings;
import dev.spruce.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compresso on the one trainer, float64 end to end on a tiny GQA model: mask-logit gradients through the hooks
 * against central differences of the loss, and the whole run (pre-pruning, masks, Lagrangian) identical on 1, 2
 * and 3 partitions, after a failed task, and after resuming from a checkpoint.
 */
class CompressoTrainingTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);
    private static final LoraSettings LORA = new LoraSettings(2, 2, 0, List.of("q_proj", "v_proj"));

    @TempDir
    static Path dir;
    static ModelRef model;
    static SparkSession spark;

    @BeforeAll
    static void writeModel() {
        Path modelDir = dir.resolve("model");
        ModelFiles.write(Fs.path(modelDir.toString()), CONFIG, WeightSource.of(CONFIG,
                TinyModels.randomWeights(CONFIG, 31)), DType.F64, null, false);
        model = new ModelRef(modelDir.toString(), "float64", true);
        spark = TestSpark.session();
    }

    static CompressoSettings settings(long prePruning) {
        return new CompressoSettings(true, true, true, LayerRange.all(2), 2.0 / 3.0, 10, 0.01, 0.3, 2,
                CompressoSettings.TargetSchedule.LINEAR, prePruning, 0.1, true, LORA);
    }

    static List<TokenSample> samples() {
        SplittableRandom random = new SplittableRandom(17);
        List<TokenSample> samples = new ArrayList<>();
        for (int i = 0; i < 11; i++) {
            int[] tokens = new int[5 + random.nextInt(6)];
            for (int t = 0; t < tokens.length; t++) {
                tokens[t] = random.nextInt(CONFIG.vocabSize());
            }
            samples.add(new TokenSample(500 + 3L * i, tokens, i % 2 == 0 ? 2 : 0));
        }
        return samples;
    }

    @Test
    void maskLogitGradientsThroughTheHooksEqualCentralDifferences() {
        CompressoTrainable trainable = new CompressoTrainable(CONFIG, settings(0));
        Map<String, double[]> init = trainable.initialValues(3);
        SplittableRandom r = new SplittableRandom(4);
        init.forEach((name, v) -> {
            for (int i = 0; i < v.length; i++) {
                if (MaskLayout.isMask(name)) {
                    v[i] = r.nextDouble(-1.5, 2.5); // interior: most samples of z are strictly inside (0, 1)
                } else if (name.contains("lora_B")) {
                    v[i] = 0.3 * r.nextGaussian(); // non-zero B so the adapters matter
                }
            }
        });
        List<String> names = new ArrayList<>(trainable.shapes().keySet());
        double[][] values = new double[names.size()][];
        for (int p = 0; p < values.length; p++) {
            values[p] = init.get(names.get(p));
        }
        List<TokenSample> data = samples().subList(0, 4);
        try (LlamaModel base = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG, 31)),
                DataType.FLOAT64, Device.cpu())) {
            StepTotals totals = GradientStep.gradients(base, trainable, values, data, 5, 7, 3, 0);
            int checked = 0;
            int nonZero = 0;
            double h = 1e-6;
            for (int p = 0; p < names.size(); p++) {
                String name = names.get(p);
                if (!name.startsWith(MaskLayout.PREFIX)) {
                    continue;
                }
                for (int i = 0; i < values[p].length; i++) {
                    double keep = values[p][i];
                    values[p][i] = keep + h;
                    double up = GradientStep.gradients(base, trainable, values, data, 5, 7, 3, 0).loss();
                    values[p][i] = keep - h;
                    double down = GradientStep.gradients(base, trainable, values, data, 5, 7, 3, 0).loss();
                    values[p][i] = keep;
                    double numeric = (up - down) / (2 * h);
                    double analytic = totals.gradients()[p][i];
                    assertEquals(numeric, analytic, 1e-6 * Math.max(1, Math.abs(numeric)), name + "[" + i + "]");
                    checked++;
                    nonZero += Math.abs(analytic) > 1e-6 ? 1 : 0;
                    if (MaskLayout.isMultiplier(name)) {
                        assertEquals(0, analytic, 0, "executors give no gradient to the multipliers");
                    }
                }
            }
            assertTrue(checked > 60, "checked " + checked);
            assertTrue(nonZero > checked / 2, "most mask logits have a gradient: " + nonZero + " of " + checked);
        }
    }

    static Dataset<TokenSample> dataset(List<TokenSample> samples, int partitions) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return spark.createDataset(sc.parallelize(samples, partitions).rdd(), Encoders.bean(TokenSample.class));
    }

    static TrainSettings.Builder trainSettings() {
        return TrainSettings.builder().globalBatch(4).microBatch(2).maxSteps(5).learningRate(0.01).warmupSteps(0)
                .validationSize(2).evalEvery(2).saveEvery(2).seed(11);
    }

    static TrainResult train(int partitions, TrainSettings settings, String out) {
        CompressoTrainable trainable = new CompressoTrainable(CONFIG, settings(1));
        Trainer trainer = new Trainer(spark, model, trainable, settings.toBuilder().partitions(partitions).build(),
                Fs.path(dir.resolve(out).toString())).driverTerm(new LagrangianTerm(trainable.layout()));
        return trainer.train(dataset(samples(), partitions));
    }

    static void assertSame(Map<String, double[]> expected, Map<String, double[]> actual, String what) {
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, v) -> {
            for (int i = 0; i < v.length; i++) {
                assertEquals(v[i], actual.get(name)[i], 1e-9, what + ": " + name + "[" + i + "]");
            }
        });
    }

    @Test
    void oneTwoAndThreePartitionsAFailedTaskAndAResumeGiveTheSameMasksMultipliersAndAdapters() throws Exception {
        TrainResult one = train(1, trainSettings().build(), "p1");
        Map<String, double[]> initial = new CompressoTrainable(CONFIG, settings(1)).initialValues(11);
        // Training moved every kind of parameter: adapters, mask logits and both multipliers.
        assertNotEquals(initial.get(MaskLayout.LAMBDA_1)[0], one.parameters().get(MaskLayout.LAMBDA_1)[0]);
        assertNotEquals(initial.get(MaskLayout.LAMBDA_2)[0], one.parameters().get(MaskLayout.LAMBDA_2)[0]);
        assertNotEquals(initial.get(MaskLayout.ffn(0))[0], one.parameters().get(MaskLayout.ffn(0))[0]);
        String b = "model.layers.1.self_attn.v_proj.lora_B.weight";
        assertNotEquals(0.0, one.parameters().get(b)[0]);
        for (String mask : new MaskLayout(CONFIG, settings(1)).names()) {
            for (double a : one.parameters().get(mask)) {
                assertTrue(a >= HardConcrete.LOG_ALPHA_MIN && a <= HardConcrete.LOG_ALPHA_MAX, mask + " clamped");
            }
        }
        // The target after step 5 (pruning steps 4 >= warm-up 2) is the final one.
        double[] target = one.metrics().column("target_sparsity");
        assertEquals(0, target[0], 0, "step 1 is pre-pruning");
        assertEquals(0.15, target[1], 1e-15);
        assertEquals(0.3, target[4], 1e-15);

        assertSame(one.parameters(), train(2, trainSettings().build(), "p2").parameters(), "2 partitions");
        assertSame(one.parameters(), train(3, trainSettings().build(), "p3").parameters(), "3 partitions");

        Path marker = dir.resolve("fail-once");
        spark.sparkContext().setLocalProperty(FailureInjection.PROPERTY_PREFIX + "train", marker.toString());
        TrainResult failed;
        try {
            failed = train(2, trainSettings().build(), "failed");
        } finally {
            spark.sparkContext().setLocalProperty(FailureInjection.PROPERTY_PREFIX + "train", null);
        }
        assertTrue(Files.exists(marker), "no task failed");
        assertSame(one.parameters(), failed.parameters(), "after a failed task");

        // A run that stopped after its step-2 checkpoint (the first with masks) resumes to the same end.
        Path from = dir.resolve("p1/checkpoints/step-2");
        Path to = dir.resolve("stopped/checkpoints/step-2");
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        TrainResult resumed = train(2, trainSettings().resume(true).build(), "stopped");
        assertSame(one.parameters(), resumed.parameters(), "resumed");
        for (String chart : List.of(LagrangianTerm.SIZE_CHART, LagrangianTerm.LAMBDA_CHART, LagrangianTerm.KEPT_CHART)) {
            assertTrue(Files.size(dir.resolve("stopped").resolve(chart)) > 1000, chart);
        }
    }
}
