package dev.spruce.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.ReferenceLlama;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.ModelRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The executor's step function without Spark: micro-batching, per-sample dropout, gradients of the summed NLL. */
class GradientStepTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);
    private static LlamaModel base;
    @TempDir
    static Path dir;

    @BeforeAll
    static void load() {
        base = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG, 21)), DataType.FLOAT64,
                Device.cpu());
    }

    @AfterAll
    static void close() {
        base.close();
    }

    /** Five samples of lengths 4..8; two have a prompt excluded from the loss. */
    static List<TokenSample> samples() {
        SplittableRandom random = new SplittableRandom(5);
        List<TokenSample> samples = new ArrayList<>();
        int[] prompts = {0, 3, 0, 2, 0};
        for (int i = 0; i < 5; i++) {
            int[] tokens = new int[4 + i];
            for (int t = 0; t < tokens.length; t++) {
                tokens[t] = random.nextInt(CONFIG.vocabSize());
            }
            samples.add(new TokenSample(100 + i, tokens, prompts[i]));
        }
        return samples;
    }

    /** LoRA values whose B is not zero, so A gets gradients too. */
    static double[][] loraValues(LoraTrainable trainable) {
        ParameterLayout layout = ParameterLayout.of(trainable);
        Map<String, double[]> values = trainable.initialValues(3);
        SplittableRandom random = new SplittableRandom(8);
        for (Map.Entry<String, double[]> e : values.entrySet()) {
            if (e.getKey().contains("lora_B")) {
                for (int i = 0; i < e.getValue().length; i++) {
                    e.getValue()[i] = 0.3 * random.nextGaussian();
                }
            }
        }
        return layout.arrays(values, "test");
    }

    private static void assertSame(StepTotals expected, StepTotals actual, double tolerance, String what) {
        assertEquals(expected.tokens(), actual.tokens(), what);
        assertEquals(expected.samples(), actual.samples(), what);
        assertEquals(expected.loss(), actual.loss(), tolerance * Math.abs(expected.loss()), what);
        for (int p = 0; p < expected.gradients().length; p++) {
            for (int i = 0; i < expected.gradients()[p].length; i++) {
                assertEquals(expected.gradients()[p][i], actual.gradients()[p][i], tolerance,
                        what + " p" + p + "[" + i + "]");
            }
        }
    }

    @Test
    void microBatchSizeAndSampleOrderDoNotChangeTheSumsEvenWithDropout() {
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(2, 4, 0.3, LoraSettings.ALL_LINEAR));
        double[][] values = loraValues(lora);
        List<TokenSample> samples = samples();
        StepTotals one = GradientStep.gradients(base, lora, values, samples, 4, 9, 1, 0);
        // predicted tokens: length - max(1, prompt) = 3, 2, 5, 5, 7
        assertEquals(22, one.tokens());
        assertEquals(5, one.samples());
        assertSame(one, GradientStep.gradients(base, lora, values, samples, 4, 9, 2, 0), 1e-12, "micro-batch 2");
        List<TokenSample> reversed = new ArrayList<>(samples);
        Collections.reverse(reversed);
        assertSame(one, GradientStep.gradients(base, lora, values, reversed, 4, 9, 5, 0), 1e-12, "reversed, 5");

        StepTotals otherStep = GradientStep.gradients(base, lora, values, samples, 5, 9, 1, 0);
        assertTrue(Math.abs(otherStep.loss() - one.loss()) > 1e-6, "dropout did not depend on the step");
        StepTotals forward = GradientStep.loss(base, lora, values, samples, 2, 0);
        assertEquals(22, forward.tokens());
        assertEquals(null, forward.gradients());
    }

    /** Central differences of the summed NLL (forward only, no dropout) against the analytic gradient. */
    private static void assertMatchesCentralDifferences(Trainable trainable, double[][] values, int parameter,
                                                        int[] elements) {
        List<TokenSample> samples = samples();
        StepTotals analytic = GradientStep.gradients(base, trainable, values, samples, 1, 0, 2, 0);
        double h = 1e-6;
        for (int i : elements) {
            double saved = values[parameter][i];
            values[parameter][i] = saved + h;
            double plus = GradientStep.loss(base, trainable, values, samples, 3, 0).loss();
            values[parameter][i] = saved - h;
            double minus = GradientStep.loss(base, trainable, values, samples, 3, 0).loss();
            values[parameter][i] = saved;
            double numeric = (plus - minus) / (2 * h);
            double g = analytic.gradients()[parameter][i];
            assertEquals(numeric, g, 1e-6 * Math.max(1, Math.abs(numeric)), "element " + i + " of parameter "
                    + parameter);
        }
    }

    @Test
    void loraGradientsAreThoseOfTheSummedLoss() {
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(2, 4, 0.0, LoraSettings.ALL_LINEAR));
        double[][] values = loraValues(lora);
        List<String> names = ParameterLayout.of(lora).names();
        int a = names.indexOf("model.layers.1.self_attn.v_proj.lora_A.weight");
        int b = names.indexOf("model.layers.0.mlp.down_proj.lora_B.weight");
        assertMatchesCentralDifferences(lora, values, a, new int[] {0, 7, 31});
        assertMatchesCentralDifferences(lora, values, b, new int[] {0, 5, 30});
    }

    @Test
    void fullParameterGradientsAreThoseOfTheSummedLoss() {
        FullTrainable full = new FullTrainable(CONFIG);
        ParameterLayout layout = ParameterLayout.of(full);
        double[][] values = layout.arrays(TinyModels.randomWeights(CONFIG, 4), "test");
        List<String> names = layout.names();
        assertMatchesCentralDifferences(full, values, names.indexOf(TensorNames.EMBED), new int[] {3, 100, 500});
        assertMatchesCentralDifferences(full, values, names.indexOf(TensorNames.layer(1, TensorNames.POST_NORM)),
                new int[] {0, 9});
        assertMatchesCentralDifferences(full, values, names.indexOf(TensorNames.layer(0, TensorNames.K)),
                new int[] {2, 77});
    }

    private static Objective distillationFrom(Map<String, double[]> teacherWeights, String name, double tau,
                                              double lmWeight) {
        Path teacherDir = dir.resolve(name);
        if (!Files.exists(teacherDir)) {
            ModelFiles.write(Fs.path(teacherDir.toString()), CONFIG, WeightSource.of(CONFIG, teacherWeights),
                    DType.F64, null, false);
        }
        return new Objective.Distillation(new ModelRef(teacherDir.toString(), "float64", true), tau, lmWeight);
    }

    /** Σ over predicted tokens of (1 - w)·τ²·KL(teacher || student) + w·NLL, from the plain-Java reference. */
    private static double referenceObjective(ReferenceLlama student, ReferenceLlama teacher, List<TokenSample> samples,
                                             double tau, double w) {
        double total = 0;
        for (TokenSample sample : samples) {
            int[] ids = sample.getTokens();
            double[][] zs = student.logits(new int[][] {ids}, null)[0];
            double[][] zt = teacher.logits(new int[][] {ids}, null)[0];
            for (int t = Math.max(1, sample.getPromptLength()); t < ids.length; t++) {
                double[] logS = logSoftmax(zs[t - 1], tau);
                double[] logT = logSoftmax(zt[t - 1], tau);
                double kl = 0;
                for (int v = 0; v < logS.length; v++) {
                    kl += Math.exp(logT[v]) * (logT[v] - logS[v]);
                }
                total += (1 - w) * tau * tau * kl - w * logSoftmax(zs[t - 1], 1.0)[ids[t]];
            }
        }
        return total;
    }

    private static double[] logSoftmax(double[] z, double tau) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v / tau);
        }
        double sum = 0;
        for (double v : z) {
            sum += Math.exp(v / tau - max);
        }
        double[] out = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            out[i] = z[i] / tau - max - Math.log(sum);
        }
        return out;
    }

    @Test
    void distillationObjectiveEqualsTheFloat64ReferenceAndItsGradientCentralDifferences() {
        Map<String, double[]> teacherWeights = TinyModels.randomWeights(CONFIG, 77);
        Objective kd = distillationFrom(teacherWeights, "teacher-77", 2.0, 0.25);
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(2, 4, 0.0, LoraSettings.ALL_LINEAR));
        // With B = 0 the student computes the base model, so the plain-Java reference of the base is the student.
        double[][] zeroB = ParameterLayout.of(lora).arrays(lora.initialValues(3), "test");
        double expected = referenceObjective(new ReferenceLlama(CONFIG, TinyModels.randomWeights(CONFIG, 21)),
                new ReferenceLlama(CONFIG, teacherWeights), samples(), 2.0, 0.25);
        StepTotals forward = GradientStep.loss(base, lora, kd, zeroB, samples(), 2, 0);
        assertEquals(expected, forward.loss(), 1e-9 * Math.abs(expected));
        assertEquals(22, forward.tokens());
        assertTrue(expected > 1, "teacher and student should disagree: " + expected);

        double[][] values = loraValues(lora);
        List<String> names = ParameterLayout.of(lora).names();
        StepTotals analytic = GradientStep.gradients(base, lora, kd, values, samples(), 1, 0, 2, 0);
        double h = 1e-6;
        for (String name : List.of("model.layers.1.self_attn.v_proj.lora_A.weight",
                "model.layers.0.mlp.down_proj.lora_B.weight", "model.layers.0.self_attn.q_proj.lora_B.weight")) {
            int p = names.indexOf(name);
            for (int i : new int[] {0, 5, 30}) {
                double saved = values[p][i];
                values[p][i] = saved + h;
                double plus = GradientStep.loss(base, lora, kd, values, samples(), 3, 0).loss();
                values[p][i] = saved - h;
                double minus = GradientStep.loss(base, lora, kd, values, samples(), 3, 0).loss();
                values[p][i] = saved;
                double numeric = (plus - minus) / (2 * h);
                assertEquals(numeric, analytic.gradients()[p][i], 1e-6 * Math.max(1, Math.abs(numeric)),
                        name + "[" + i + "]");
            }
        }
    }

    @Test
    void aStudentThatComputesItsTeacherHasZeroDistillationLossAndGradient() {
        Objective kd = distillationFrom(TinyModels.randomWeights(CONFIG, 21), "teacher-21", 1.0, 0.0);
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(2, 4, 0.0, LoraSettings.ALL_LINEAR));
        double[][] zeroB = ParameterLayout.of(lora).arrays(lora.initialValues(3), "test");
        StepTotals totals = GradientStep.gradients(base, lora, kd, zeroB, samples(), 1, 0, 2, 0);
        assertEquals(0.0, totals.loss(), 1e-12);
        for (double[] g : totals.gradients()) {
            for (double v : g) {
                assertEquals(0.0, v, 1e-12);
            }
        }
        StepTotals lm = GradientStep.gradients(base, lora, zeroB, samples(), 1, 0, 2, 0);
        assertTrue(lm.loss() > 1, "the LM loss of the same student is not 0: " + lm.loss());
    }

    @Test
    void precomputedTopKTargetsOverTheVocabularyTrainLikeTheResidentTeacher() {
        Map<String, double[]> teacherWeights = TinyModels.randomWeights(CONFIG, 78);
        Objective resident = distillationFrom(teacherWeights, "teacher-78", 2.0, 0.2);
        LoraTrainable lora = new LoraTrainable(CONFIG, new LoraSettings(2, 4, 0.0, LoraSettings.ALL_LINEAR));
        double[][] values = loraValues(lora);
        List<TokenSample> withTargets;
        try (LlamaModel teacher = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, teacherWeights), DataType.FLOAT64,
                Device.cpu())) {
            List<TokenSample> samples = samples();
            withTargets = new ArrayList<>(TeacherTopK.targets(teacher, samples.subList(0, 2), CONFIG.vocabSize(), 2.0,
                    0));
            withTargets.addAll(TeacherTopK.targets(teacher, samples.subList(2, 5), CONFIG.vocabSize(), 2.0, 0));
        }
        // predicted tokens 3, 2, 5, 5, 7: one target row of vocab entries each
        assertEquals(3 * CONFIG.vocabSize(), withTargets.get(0).getTeacherTokens().length);
        assertEquals(7 * CONFIG.vocabSize(), withTargets.get(4).getTeacherLogProbs().length);
        Objective topK = new Objective.TopKDistillation(CONFIG.vocabSize(), 2.0, 0.2);

        StepTotals expected = GradientStep.gradients(base, lora, resident, values, samples(), 1, 0, 2, 0);
        StepTotals actual = GradientStep.gradients(base, lora, topK, values, withTargets, 1, 0, 3, 0);

        // The targets are stored in float32: equal to float32 precision.
        assertEquals(expected.loss(), actual.loss(), 1e-6 * Math.abs(expected.loss()));
        for (int p = 0; p < expected.gradients().length; p++) {
            for (int i = 0; i < expected.gradients()[p].length; i++) {
                assertEquals(expected.gradients()[p][i], actual.gradients()[p][i], 1e-6, "p" + p + "[" + i + "]");
            }
        }
        IllegalStateException missing = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> GradientStep.loss(base, lora, topK, values, samples(), 2, 0));
        assertTrue(missing.getMessage().contains("sample 100 has no top-"), missing.getMessage());
    }
}
