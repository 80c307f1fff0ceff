package dev.spruce.compresso;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.TinyModels;
import dev.spruce.scope.LayerRange;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The hard-concrete formulas, deterministic masks, expected size and the Lagrangian against direct float64
 * computations written out here from the method's definitions (constants spelled as numbers, the expected size
 * as the reference's explicit outer-product sums).
 */
class CompressoMathTest {
    private static final double BETA = 2.0 / 3.0;

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    @Test
    void keepProbabilityAndSampleFollowTheDefinitions() {
        HardConcrete hc = HardConcrete.DEFAULT;
        for (double a : new double[] {-4.6, -1, 0, 0.37, 2.5, 4.6}) {
            // P(z > 0) = 1 - Q(0) with Q the CDF of the stretched concrete: sigmoid(log_alpha - beta log(0.1/1.1)).
            double expected = sigmoid(a - BETA * Math.log(0.1 / 1.1));
            assertEquals(expected, hc.keepProbability(a), 1e-15);
            assertEquals(sigmoid(a + 1.5985968485), hc.keepProbability(a), 1e-9, "the shift is beta log(11)");
            double h = 1e-6;
            assertEquals((hc.keepProbability(a + h) - hc.keepProbability(a - h)) / (2 * h),
                    hc.keepProbabilityDerivative(a), 1e-8);
            for (double u : new double[] {1e-6, 0.01, 0.3, 0.5, 0.77, 1 - 1e-6}) {
                double s = sigmoid((Math.log(u) - Math.log(1 - u) + a) / BETA);
                double z = Math.min(1, Math.max(0, s * 1.2 - 0.1));
                assertEquals(z, hc.sample(a, Math.log(u) - Math.log(1 - u)), 1e-15);
            }
        }
        // The empirical rate of z > 0 over many draws matches P(z > 0).
        double[] noise = HardConcrete.noise(5, 200_000);
        int kept = 0;
        for (double n : noise) {
            kept += hc.sample(-0.8, n) > 0 ? 1 : 0;
        }
        assertEquals(hc.keepProbability(-0.8), kept / 200_000.0, 0.004);
        for (double n : noise) {
            double u = 1 / (1 + Math.exp(-n));
            assertTrue(u >= 1e-6 - 1e-15 && u <= 1 - 1e-6 + 1e-15, "u outside (eps, 1 - eps): " + u);
        }
    }

    @Test
    void deterministicMasksZeroTheRoundedExpectedZerosLowestScoresFirst() {
        HardConcrete hc = HardConcrete.DEFAULT;
        double[] logits = {4.6, -3.0, 0.2, -4.6, 1.1, -0.5, 3.3, -2.2};
        double keptMass = 0;
        for (double a : logits) {
            keptMass += sigmoid(a - BETA * Math.log(0.1 / 1.1));
        }
        long zeros = Math.round(logits.length - keptMass);
        double[] z = hc.deterministic(logits);
        Integer[] order = {3, 1, 7, 5, 2, 4, 6, 0}; // logits ascending
        for (int k = 0; k < logits.length; k++) {
            int i = order[k];
            double soft = sigmoid(logits[i] / BETA * 0.8);
            assertEquals(k < zeros ? 0 : soft, z[i], 0, "unit " + i);
        }
        assertEquals(3, zeros, "this vector's expected zeros");
        // Survivors keep a fractional value (about 0.996 at the clamp), as the reference's do.
        assertEquals(sigmoid(4.6 / BETA * 0.8), z[0], 0);
        assertTrue(z[0] < 1);
    }

    private static LlamaConfig llama7b() {
        return LlamaConfig.read(Fs.path("conf/shapes/llama-7b.json"));
    }

    @Test
    void llama7bCountsWithEveryKeepProbabilityOne() {
        LlamaConfig c = llama7b();
        MaskLayout layout = new MaskLayout(c, CompressoSettings.reference(c.numHiddenLayers(), 0.2, 100));
        ExpectedSize size = new ExpectedSize(layout);
        assertEquals(6_476_005_376L, size.prunableCount());
        assertEquals(6_738_415_616L, size.fullCount());
        Map<String, double[]> ones = new LinkedHashMap<>();
        layout.masks().forEach((name, n) -> {
            double[] p = new double[n];
            Arrays.fill(p, 1);
            ones.put(name, p);
        });
        assertEquals(6_738_415_616.0, size.fromKeepProbabilities(ones, false).expected(), 0);
        // Mask logits: 32 x 32 heads + 32 x 11008 channels + 4096 hidden = 357,376.
        assertEquals(357_376, layout.masks().values().stream().mapToInt(Integer::intValue).sum());
    }

    /** E[N] by the reference's explicit sums over (hidden dim, unit) pairs, plus the parts it leaves out. */
    private static double bruteForceExpected(LlamaConfig c, Map<String, double[]> p, LayerRange band) {
        int d = c.hiddenSize();
        double[] hid = p.getOrDefault(MaskLayout.HIDDEN, ones(d));
        double total = 0;
        for (int i = 0; i < d; i++) {
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                int kv = c.layerKvHeads(l);
                int rep = c.layerHeads(l) / kv;
                double[] g = band.contains(l) ? p.get(MaskLayout.heads(l)) : ones(kv);
                for (int k = 0; k < kv; k++) {
                    // q rows and o columns of rep heads, k and v rows of one group, head_dim each
                    total += hid[i] * g[k] * (rep * c.headDim() * 2 + 2 * c.headDim());
                }
                double[] f = band.contains(l) ? p.get(MaskLayout.ffn(l)) : ones(c.layerIntermediate(l));
                for (double x : f) {
                    total += hid[i] * x * 3;
                }
                total += 2 * hid[i]; // input and post-attention norms
            }
            total += hid[i] * (c.vocabSize() * (c.tieWordEmbeddings() ? 1 : 2) + 1);
        }
        return total;
    }

    private static double[] ones(int n) {
        double[] v = new double[n];
        Arrays.fill(v, 1);
        return v;
    }

    private static Map<String, double[]> randomLogits(MaskLayout layout, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, double[]> logits = new LinkedHashMap<>();
        layout.masks().forEach((name, n) -> {
            double[] a = new double[n];
            for (int i = 0; i < n; i++) {
                a[i] = r.nextDouble(-4, 4);
            }
            logits.put(name, a);
        });
        return logits;
    }

    @Test
    void expectedSizeAndItsGradientMatchTheOuterProductSumsOnGqaAndMha() {
        for (LlamaConfig c : List.of(TinyModels.config(3, 4, 2), TinyModels.config(3, 4, 4, true))) {
            LayerRange band = new LayerRange(1, 3);
            CompressoSettings s = new CompressoSettings(true, true, true, band, BETA, 10, 0.01, 0.2, 10,
                    CompressoSettings.TargetSchedule.LINEAR, 0, 0.1, true, CompressoSettings.reference(3, 0.2, 10)
                    .lora());
            MaskLayout layout = new MaskLayout(c, s);
            ExpectedSize size = new ExpectedSize(layout);
            Map<String, double[]> logits = randomLogits(layout, 3);
            Map<String, double[]> keep = new LinkedHashMap<>();
            logits.forEach((name, a) -> keep.put(name, Arrays.stream(a)
                    .map(x -> sigmoid(x - BETA * Math.log(0.1 / 1.1))).toArray()));
            ExpectedSize.Value v = size.evaluate(logits, true);
            double brute = bruteForceExpected(c, keep, band);
            assertEquals(brute, v.expected(), 1e-9 * brute);
            // Gradient against central differences of the brute-force sum.
            double h = 1e-5;
            for (String name : layout.names()) {
                for (int i = 0; i < logits.get(name).length; i += 3) {
                    Map<String, double[]> plus = shifted(keep, logits, name, i, h);
                    Map<String, double[]> minus = shifted(keep, logits, name, i, -h);
                    double numeric = (bruteForceExpected(c, plus, band) - bruteForceExpected(c, minus, band)) / (2 * h);
                    assertEquals(numeric, v.gradient().get(name)[i], 1e-6 * Math.max(1, Math.abs(numeric)),
                            name + "[" + i + "]");
                }
            }
        }
    }

    private static Map<String, double[]> shifted(Map<String, double[]> keep, Map<String, double[]> logits,
                                                 String name, int i, double h) {
        Map<String, double[]> out = new LinkedHashMap<>(keep);
        double[] p = keep.get(name).clone();
        p[i] = sigmoid(logits.get(name)[i] + h - BETA * Math.log(0.1 / 1.1));
        out.put(name, p);
        return out;
    }

    @Test
    void lagrangianGradientsMatchCentralDifferencesAndTheTargetRamps() {
        LlamaConfig c = TinyModels.config(2, 4, 2);
        CompressoSettings s = new CompressoSettings(true, true, true, LayerRange.all(2), BETA, 10, 0.01, 0.3, 8,
                CompressoSettings.TargetSchedule.LINEAR, 2, 0.1, true, CompressoSettings.reference(2, 0.3, 8).lora());
        assertEquals(0, s.target(2), 0);
        assertEquals(0.3 * 3 / 8, s.target(5), 1e-15);
        assertEquals(0.3, s.target(10), 1e-15);
        assertEquals(0.3, s.target(50), 1e-15);
        CompressoSettings cubic = new CompressoSettings(true, true, true, LayerRange.all(2), BETA, 10, 0.01, 0.3, 8,
                CompressoSettings.TargetSchedule.CUBIC, 2, 0.1, true, s.lora());
        assertEquals(0.3 - 0.3 * Math.pow(1 - 3.0 / 8, 3), cubic.target(5), 1e-15);

        MaskLayout layout = new MaskLayout(c, s);
        LagrangianTerm term = new LagrangianTerm(layout);
        Map<String, double[]> params = randomLogits(layout, 9);
        params.put(MaskLayout.LAMBDA_1, new double[] {0.7});
        params.put(MaskLayout.LAMBDA_2, new double[] {-0.4});
        long step = 6;
        Map<String, double[]> grads = new LinkedHashMap<>();
        params.forEach((name, v) -> grads.put(name, new double[v.length]));
        double value = term.apply(step, params, grads).value();
        assertEquals(lagrangian(c, layout, params, s.target(step)), value, 1e-12);
        double h = 1e-6;
        for (String name : params.keySet()) {
            for (int i = 0; i < params.get(name).length; i += 2) {
                double[] v = params.get(name);
                double keepValue = v[i];
                v[i] = keepValue + h;
                double up = lagrangian(c, layout, params, s.target(step));
                v[i] = keepValue - h;
                double down = lagrangian(c, layout, params, s.target(step));
                v[i] = keepValue;
                assertEquals((up - down) / (2 * h), grads.get(name)[i], 1e-7, name + "[" + i + "]");
            }
        }
        // Pre-pruning: no term, no gradient.
        Map<String, double[]> zero = new LinkedHashMap<>();
        params.forEach((name, v) -> zero.put(name, new double[v.length]));
        assertEquals(0, term.apply(2, params, zero).value(), 0);
        zero.values().forEach(g -> assertArrayEquals(new double[g.length], g, 0));
    }

    /** λ1 (ŝ - t) + λ2 (ŝ - t)² with ŝ from the brute-force expected size. */
    private static double lagrangian(LlamaConfig c, MaskLayout layout, Map<String, double[]> params, double t) {
        Map<String, double[]> keep = new LinkedHashMap<>();
        for (String name : layout.names()) {
            keep.put(name, Arrays.stream(params.get(name)).map(x -> sigmoid(x - BETA * Math.log(0.1 / 1.1)))
                    .toArray());
        }
        double sparsity = 1 - bruteForceExpected(c, keep, layout.settings().layers()) / c.parameterCount();
        double gap = sparsity - t;
        return params.get(MaskLayout.LAMBDA_1)[0] * gap + params.get(MaskLayout.LAMBDA_2)[0] * gap * gap;
    }

    @Test
    void initialLogitsAndClampingFollowTheReference() {
        LlamaConfig c = TinyModels.config(2, 4, 2);
        MaskLayout layout = new MaskLayout(c, CompressoSettings.reference(2, 0.2, 10));
        Map<String, double[]> init = layout.initialLogits(1);
        for (double a : init.get(MaskLayout.heads(0))) {
            assertEquals(Math.log(100), a, 0, "N(10, 0.01) clamps to log 100");
        }
        for (double a : init.get(MaskLayout.ffn(1))) {
            assertEquals(Math.log(0.99 / 0.01), a, 0.05);
        }
        double[] v = {-9, 0.5, 7};
        HardConcrete.clamp(v);
        assertArrayEquals(new double[] {Math.log(0.01), 0.5, Math.log(100)}, v, 0);
        assertEquals(List.of(MaskLayout.heads(0), MaskLayout.ffn(0), MaskLayout.heads(1), MaskLayout.ffn(1),
                MaskLayout.HIDDEN), layout.names());
    }
}
