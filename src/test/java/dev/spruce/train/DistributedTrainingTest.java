package dev.spruce.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import dev.spruce.model.safetensors.SafetensorsFile;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.TestSpark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
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

/** Invariant 4 for training, resume, validation and bad input, on Spark local with a tiny float64 model. */
class DistributedTrainingTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);
    private static final LoraSettings LORA = new LoraSettings(2, 4, 0.2, LoraSettings.ALL_LINEAR);

    @TempDir
    static Path dir;
    static ModelRef model;
    static SparkSession spark;

    @BeforeAll
    static void writeModel() {
        Path modelDir = dir.resolve("model");
        ModelFiles.write(Fs.path(modelDir.toString()), CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG,
                31)), DType.F64, null, false);
        model = new ModelRef(modelDir.toString(), "float64", true);
        spark = TestSpark.session();
    }

    /** 13 random samples of lengths 5..11, some with a prompt. */
    static List<TokenSample> randomSamples() {
        SplittableRandom random = new SplittableRandom(17);
        List<TokenSample> samples = new ArrayList<>();
        for (int i = 0; i < 13; i++) {
            int[] tokens = new int[5 + random.nextInt(7)];
            for (int t = 0; t < tokens.length; t++) {
                tokens[t] = random.nextInt(CONFIG.vocabSize());
            }
            samples.add(new TokenSample(1000 + 7L * i, tokens, i % 3 == 0 ? 2 : 0));
        }
        return samples;
    }

    static Dataset<TokenSample> dataset(List<TokenSample> samples, int partitions) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return spark.createDataset(sc.parallelize(samples, partitions).rdd(), Encoders.bean(TokenSample.class));
    }

    static TrainSettings.Builder loraSettings() {
        return TrainSettings.builder().globalBatch(5).microBatch(2).maxSteps(3).learningRate(0.02).warmupSteps(1)
                .validationSize(0).saveEvery(100).evalEvery(100).seed(7);
    }

    static TrainResult train(Trainable trainable, List<TokenSample> samples, TrainSettings settings, String out) {
        return new Trainer(spark, model, trainable, settings, Fs.path(dir.resolve(out).toString()))
                .train(dataset(samples, 2));
    }

    static void assertParametersEqual(Map<String, double[]> expected, Map<String, double[]> actual, double tolerance,
                                      String what) {
        assertEquals(expected.keySet(), actual.keySet(), what);
        for (Map.Entry<String, double[]> e : expected.entrySet()) {
            double[] a = actual.get(e.getKey());
            for (int i = 0; i < a.length; i++) {
                assertEquals(e.getValue()[i], a[i], tolerance, what + ": " + e.getKey() + "[" + i + "]");
            }
        }
    }

    static double maxChange(Map<String, double[]> before, Map<String, double[]> after) {
        double max = 0;
        for (Map.Entry<String, double[]> e : before.entrySet()) {
            for (int i = 0; i < e.getValue().length; i++) {
                max = Math.max(max, Math.abs(e.getValue()[i] - after.get(e.getKey())[i]));
            }
        }
        return max;
    }

    @Test
    void distillationOnOneTwoAndThreePartitionsGivesTheSameLoraWeightsAndLosses() {
        Path teacherDir = dir.resolve("teacher");
        ModelFiles.write(Fs.path(teacherDir.toString()), CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(
                CONFIG, 55)), DType.F64, null, false);
        Objective kd = new Objective.Distillation(new ModelRef(teacherDir.toString(), "float64", true), 2.0, 0.1);
        LoraTrainable lora = new LoraTrainable(CONFIG, LORA);
        List<TokenSample> samples = randomSamples();
        TrainResult single = null;
        for (int partitions : new int[] {1, 2, 3}) {
            TrainSettings settings = loraSettings().partitions(partitions).validationSize(3).evalEvery(2).build();
            TrainResult r = new Trainer(spark, model, lora, kd, settings,
                    Fs.path(dir.resolve("kd-p" + partitions).toString())).train(dataset(samples, partitions));
            assertEquals(3, r.steps());
            if (single == null) {
                single = r;
                assertTrue(maxChange(lora.initialValues(7), r.parameters()) > 1e-3,
                        "training did not move the weights");
                TrainResult lm = new Trainer(spark, model, lora, settings, Fs.path(dir.resolve("kd-lm").toString()))
                        .train(dataset(samples, partitions));
                assertTrue(maxChange(lm.parameters(), r.parameters()) > 1e-3,
                        "distillation trained exactly like the LM loss");
                continue;
            }
            assertParametersEqual(single.parameters(), r.parameters(), 1e-12, "distillation, " + partitions
                    + " partitions");
            assertEquals(single.bestValidationLoss(), r.bestValidationLoss(), 1e-12);
            for (int s = 0; s < 3; s++) {
                assertEquals(single.metrics().rows().get(s).trainLoss(), r.metrics().rows().get(s).trainLoss(), 1e-12,
                        "loss of step " + (s + 1));
            }
        }
    }

    @Test
    void topKDistillationOnOneAndThreePartitionsGivesTheSameLoraWeights() {
        List<TokenSample> samples;
        try (LlamaModel teacher = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG, 56)),
                DataType.FLOAT64, Device.cpu())) {
            samples = TeacherTopK.targets(teacher, randomSamples(), 5, 1.0, 0);
        }
        Objective topK = new Objective.TopKDistillation(5, 1.0, 0.0);
        LoraTrainable lora = new LoraTrainable(CONFIG, LORA);
        TrainResult one = new Trainer(spark, model, lora, topK, loraSettings().partitions(1).build(),
                Fs.path(dir.resolve("topk-p1").toString())).train(dataset(samples, 1));
        TrainResult three = new Trainer(spark, model, lora, topK, loraSettings().partitions(3).build(),
                Fs.path(dir.resolve("topk-p3").toString())).train(dataset(samples, 3));
        assertTrue(maxChange(lora.initialValues(7), one.parameters()) > 1e-3, "training did not move the weights");
        assertParametersEqual(one.parameters(), three.parameters(), 1e-12, "top-k distillation, 3 partitions");
    }

    @Test
    void oneTwoAndThreeUnevenPartitionsGiveTheSameLoraWeightsAndLosses() {
        LoraTrainable lora = new LoraTrainable(CONFIG, LORA);
        List<TokenSample> samples = randomSamples();
        TrainResult single = null;
        for (int partitions : new int[] {1, 2, 3}) {
            TrainSettings settings = loraSettings().partitions(partitions).build();
            TrainResult r = new Trainer(spark, model, lora, settings, Fs.path(dir.resolve("p" + partitions).toString()))
                    .train(dataset(samples, partitions));
            assertEquals(3, r.steps());
            assertEquals(3, r.metrics().rows().size());
            if (single == null) {
                single = r;
                assertTrue(maxChange(lora.initialValues(7), r.parameters()) > 1e-3,
                        "training did not move the weights");
                continue;
            }
            assertParametersEqual(single.parameters(), r.parameters(), 1e-12, partitions + " partitions");
            for (int s = 0; s < 3; s++) {
                TrainingMetrics.Row expected = single.metrics().rows().get(s);
                TrainingMetrics.Row actual = r.metrics().rows().get(s);
                assertEquals(expected.tokens(), actual.tokens(), "tokens of step " + (s + 1));
                assertEquals(expected.trainLoss(), actual.trainLoss(), 1e-12, "loss of step " + (s + 1));
                assertEquals(expected.gradNorm(), actual.gradNorm(), 1e-12, "grad norm of step " + (s + 1));
            }
        }
        // Batches of 5 over 13 samples: 5 + 5 + 3 samples; each step's tokens are its samples' predicted tokens.
        long tokens = 0;
        for (TokenSample s : samples) {
            tokens += s.getTokens().length - Math.max(1, s.getPromptLength());
        }
        assertEquals(tokens, single.tokens());
    }

    private static double[][] read(Path file, String... names) {
        try (SafetensorsFile f = SafetensorsFile.open(Fs.path(file.toString()))) {
            double[][] out = new double[names.length][];
            for (int i = 0; i < names.length; i++) {
                out[i] = f.readDouble(names[i]);
            }
            return out;
        }
    }

    @Test
    void resumingFromACheckpointEqualsTheUninterruptedRun() throws IOException {
        LoraTrainable lora = new LoraTrainable(CONFIG, LORA);
        List<TokenSample> samples = randomSamples();
        // 10 training samples in batches of 4: steps of 4, 4, 2 per epoch, so 4 steps cross into epoch 2.
        TrainSettings settings = loraSettings().globalBatch(4).maxSteps(4).validationSize(3).evalEvery(1).saveEvery(2)
                .build();
        TrainResult straight = train(lora, samples, settings, "straight");

        // A run that stopped after writing step-2: its output holds that checkpoint only.
        Path stopped = dir.resolve("stopped");
        Path from = dir.resolve("straight/checkpoints/step-2");
        Path to = stopped.resolve("checkpoints/step-2");
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> train(lora, samples, settings, "stopped"));
        assertTrue(refused.getMessage().contains("already holds checkpoint step-2"), refused.getMessage());

        TrainResult resumed = train(lora, samples, settings.toBuilder().resume(true).build(), "stopped");
        assertEquals(4, resumed.steps());
        assertParametersEqual(straight.parameters(), resumed.parameters(), 1e-12, "final parameters");
        assertParametersEqual(straight.bestParameters(), resumed.bestParameters(), 1e-12, "best parameters");
        assertEquals(straight.bestStep(), resumed.bestStep());
        assertEquals(straight.bestValidationLoss(), resumed.bestValidationLoss(), 1e-12);
        String a = "model.layers.1.mlp.up_proj.lora_A.weight";
        String b = "model.layers.0.self_attn.k_proj.lora_B.weight";
        String[] moments = {a + ".exp_avg", a + ".exp_avg_sq", b + ".exp_avg", b + ".exp_avg_sq"};
        double[][] expected = read(dir.resolve("straight/checkpoints/step-4/optimizer.safetensors"), moments);
        double[][] actual = read(stopped.resolve("checkpoints/step-4/optimizer.safetensors"), moments);
        for (int m = 0; m < moments.length; m++) {
            assertTrue(Arrays.stream(expected[m]).anyMatch(x -> x != 0), moments[m] + " is all zero");
            for (int i = 0; i < expected[m].length; i++) {
                assertEquals(expected[m][i], actual[m][i], 1e-12 * Math.abs(expected[m][i]),
                        moments[m] + "[" + i + "]");
            }
        }
        List<TrainingMetrics.Row> rows = resumed.metrics().rows();
        assertEquals(4, rows.size());
        for (int s = 0; s < 4; s++) {
            TrainingMetrics.Row e = straight.metrics().rows().get(s);
            assertEquals(e.trainLoss(), rows.get(s).trainLoss(), 1e-12, "loss of step " + (s + 1));
            assertEquals(e.validationLoss(), rows.get(s).validationLoss(), 1e-12, "validation loss of step " + (s + 1));
            assertEquals(e.learningRate(), rows.get(s).learningRate(), 0.0, "rate of step " + (s + 1));
        }
        // Steps 1 and 2 were restored, not recomputed: even their wall times are the straight run's.
        assertEquals(straight.metrics().rows().get(1).seconds(), rows.get(1).seconds(), 0.0);
        String state = Files.readString(stopped.resolve("checkpoints/step-4/state.json"));
        assertTrue(state.contains("\"epoch\": 1,") && state.contains("\"epoch_position\": 4,"), state);
        assertTrue(Files.exists(stopped.resolve("summary.json")));
        assertTrue(Files.size(stopped.resolve("loss.png")) > 1000);
        assertEquals(TrainingMetrics.HEADER, Files.readAllLines(stopped.resolve("metrics.csv")).get(0));
        assertEquals(5, Files.readAllLines(stopped.resolve("metrics.csv")).size());
    }

    /** Windows of lengths 8..12 over a fixed period-7 pattern, from every offset: each next token is determined. */
    static List<TokenSample> patternSamples(int count) {
        int[] pattern = {3, 17, 8, 29, 11, 5, 22};
        List<TokenSample> samples = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] tokens = new int[8 + i % 5];
            for (int t = 0; t < tokens.length; t++) {
                tokens[t] = pattern[(i + t) % pattern.length];
            }
            samples.add(TokenSample.of(i, tokens));
        }
        return samples;
    }

    /** Mean token NLL of {@code samples} under the base model alone, computed without Spark. */
    static double baseLoss(List<TokenSample> samples) {
        try (LlamaModel base = ModelFiles.load(Fs.path(model.path()), DataType.FLOAT64, Device.cpu())) {
            FullTrainable full = new FullTrainable(CONFIG);
            Map<String, double[]> weights = new LinkedHashMap<>();
            base.weights().forEach((name, w) -> weights.put(name, w.toDoubleArray()));
            StepTotals t = GradientStep.loss(base, full, ParameterLayout.of(full).arrays(weights, "base"), samples, 8,
                    0);
            return t.loss() / t.tokens();
        }
    }

    @Test
    void loraLowersTheValidationLossOfALearnablePattern() {
        List<TokenSample> samples = patternSamples(40);
        double before = baseLoss(samples);
        TrainSettings settings = TrainSettings.builder().globalBatch(8).microBatch(4).maxSteps(30).learningRate(0.02)
                .warmupSteps(3).validationSize(8).evalEvery(10).saveEvery(100).seed(3).build();
        TrainResult r = train(new LoraTrainable(CONFIG, new LoraSettings(4, 8, 0.05, LoraSettings.ALL_LINEAR)), samples,
                settings, "pattern-lora");
        List<Double> validation = r.metrics().rows().stream().map(TrainingMetrics.Row::validationLoss)
                .filter(v -> !Double.isNaN(v)).toList();
        assertEquals(3, validation.size());
        assertTrue(validation.get(2) < validation.get(0), "validation loss did not fall: " + validation);
        assertTrue(r.bestValidationLoss() < 0.5 * before, "best validation " + r.bestValidationLoss()
                + " is not below half the base model's " + before);
        assertEquals(30, r.bestStep());
        assertEquals(32, r.trainingSamples());
        assertEquals(8, r.validationSamples());
    }

    @Test
    void fullParameterTrainingLowersTheTrainingLossSubstantially() {
        List<TokenSample> samples = patternSamples(32);
        TrainSettings settings = TrainSettings.builder().globalBatch(8).microBatch(4).maxSteps(40).learningRate(0.01)
                .warmupSteps(4).validationSize(0).saveEvery(100).seed(5).build();
        TrainResult r = train(new FullTrainable(CONFIG), samples, settings, "pattern-full");
        List<TrainingMetrics.Row> rows = r.metrics().rows();
        double first = rows.get(0).trainLoss();
        double last = rows.get(rows.size() - 1).trainLoss();
        // From HF's N(0, 0.02) init the model starts near uniform over the vocabulary: ln 37 = 3.61.
        assertEquals(Math.log(CONFIG.vocabSize()), first, 0.1);
        assertTrue(last < 0.25 * first, "training loss went from " + first + " to " + last);
        assertEquals(null, r.bestParameters());
    }

    private static void assertRefused(String expectedMessage, Trainer trainer, Dataset<TokenSample> data,
                                      Path out) {
        Exception e = assertThrows(Exception.class, () -> trainer.train(data));
        assertTrue(String.valueOf(e.getMessage()).contains(expectedMessage), e.getMessage());
        assertFalse(Files.exists(out), out + " was created");
        assertEquals(0, dir.toFile().list((d, name) -> name.startsWith("." + out.getFileName())).length,
                "a staging directory was left beside " + out);
    }

    @Test
    void badInputIsRefusedWithAClearErrorAndNoOutput() {
        LoraTrainable lora = new LoraTrainable(CONFIG, LORA);
        Path out = dir.resolve("refused");
        TrainSettings settings = loraSettings().validationSize(0).build();
        assertRefused("the training data is empty", new Trainer(spark, model, lora, settings,
                Fs.path(out.toString())), dataset(List.of(), 1), out);
        assertRefused("train.validation_size 13 leaves no training samples: the data has only 13 samples",
                new Trainer(spark, model, lora, loraSettings().validationSize(13).build(), Fs.path(out.toString())),
                dataset(randomSamples(), 2), out);
        List<TokenSample> duplicated = new ArrayList<>(randomSamples());
        duplicated.add(TokenSample.of(1007, new int[] {1, 2, 3}));
        assertRefused("sample ids must be unique, id 1007 appears twice", new Trainer(spark, model, lora, settings,
                Fs.path(out.toString())), dataset(duplicated, 2), out);
        // A base model that does not exist fails every task: the job fails before anything is written.
        ModelRef missing = new ModelRef(dir.resolve("no-model").toString(), "float64", true);
        assertRefused("no-model", new Trainer(spark, missing, lora, settings, Fs.path(out.toString())),
                dataset(randomSamples(), 2), out);

        IllegalArgumentException batch = assertThrows(IllegalArgumentException.class,
                () -> loraSettings().globalBatch(0).build());
        assertEquals("train.global_batch must be a positive integer, got 0", batch.getMessage());
        IllegalArgumentException micro = assertThrows(IllegalArgumentException.class,
                () -> loraSettings().microBatch(-4).build());
        assertEquals("train.micro_batch must be a positive integer, got -4", micro.getMessage());
        IllegalArgumentException initial = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(spark, model, lora, settings, Fs.path(out.toString()))
                        .train(dataset(randomSamples(), 1), Map.of("model.layers.0.self_attn.q_proj.lora_A.weight",
                                new double[3])));
        assertTrue(initial.getMessage().contains("initial parameter values: parameter "
                + "'model.layers.0.self_attn.q_proj.lora_A.weight' has 3 values"), initial.getMessage());
        assertFalse(Files.exists(out));
    }
}
