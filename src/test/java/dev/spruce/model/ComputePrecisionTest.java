package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The half-precision policy on the CPU, in float16 (bfloat16 aborts libtorch on the CPU, P2): float32 where
 * precision needs it, and gradients that flow through every cast (P4).
 */
class ComputePrecisionTest {
    private static final LlamaConfig CONFIG = TinyModels.builder(2, 4, 2)
            .layerWidths(new int[] {4, 2}, new int[] {2, 1}, new int[] {24, 10}).build();

    @Test
    void toTypeDetachesButDjlCastIsDifferentiable() throws Exception {
        try (NDManager m = NDManager.newBaseManager(Device.cpu()); AutoCloseable grad = Djl.gradScope(true)) {
            NDArray leaf = m.create(new float[] {1, -2, 3});
            Djl.requireGradient(leaf);
            NDArray detached = leaf.toType(DataType.FLOAT64, false).mul(leaf.toType(DataType.FLOAT64, false)).sum();
            assertThrows(EngineException.class, () -> Djl.backward(detached), "DJL's toType no longer detaches: "
                    + "P4 in docs/DESIGN.md is out of date");
            NDArray wide = Djl.cast(leaf, DataType.FLOAT64);
            assertEquals(DataType.FLOAT64, wide.getDataType());
            NDArray half = Djl.cast(wide, DataType.FLOAT16);
            assertEquals(DataType.FLOAT16, half.getDataType());
            // d/dx sum(x^2) = 2x, through float32 -> float64 -> float16 -> float32.
            NDArray back = Djl.cast(half, DataType.FLOAT32);
            Djl.backward(back.mul(back).sum());
            float[] g = Djl.gradient(leaf, m).toFloatArray();
            assertEquals(2f, g[0]);
            assertEquals(-4f, g[1]);
            assertEquals(6f, g[2]);
        }
    }

    @Test
    void castToBfloat16IsRefusedNotAnAbort() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray a = m.create(new float[] {1});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Djl.cast(a, DataType.BFLOAT16));
            assertTrue(e.getMessage().contains("DJL's JNI has no bfloat16 type on any device"), e.getMessage());
        }
    }

    private static String[] fork(String dtype) throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                HalfPrecisionProbe.class.getName(), dtype).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the probe JVM did not finish");
        return new String[] {Integer.toString(p.exitValue()), out};
    }

    /**
     * Why bfloat16 is refused on the CPU (P2), checked where it cannot take this JVM down: even a cast of a
     * float32 array aborts libtorch (SIGABRT, exit 134), while float16 works. If this starts to fail, a libtorch
     * release has made bfloat16 safe on the CPU and the refusal in Djl.checkDataType can go.
     */
    @Test
    void aBfloat16CastAbortsLibtorchOnCpuWhereFloat16Works() throws Exception {
        String[] half = fork("FLOAT16");
        assertEquals("0", half[0], half[1]);
        assertTrue(half[1].contains("ok 2.25 5.0625"), half[1]);
        String[] brain = fork("BFLOAT16");
        assertEquals("134", brain[0], brain[1]);
        assertTrue(brain[1].contains("terminate called"), brain[1]);
    }

    /** Largest |a - b| over the largest |b|, over every weight's gradient. */
    static double relativeGradientError(Map<String, double[]> actual, Map<String, double[]> expected) {
        double err = 0;
        double scale = 0;
        for (Map.Entry<String, double[]> e : expected.entrySet()) {
            double[] a = actual.get(e.getKey());
            for (int i = 0; i < a.length; i++) {
                err = Math.max(err, Math.abs(a[i] - e.getValue()[i]));
                scale = Math.max(scale, Math.abs(e.getValue()[i]));
            }
        }
        return err / scale;
    }

    @Test
    void float16GradientsFollowTheFloat64Gradients() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 23);
        TokenBatch batch = GradientTest.batch(CONFIG);
        Map<String, double[]> exact;
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu())) {
            exact = GradientTest.gradients(model, batch, false);
        }
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT16, Device.cpu())) {
            double error = relativeGradientError(GradientTest.gradients(model, batch, false), exact);
            assertTrue(error <= 2e-2, "float16 gradient relative error " + error);
            assertTrue(error > 1e-6, "float16 gradients look like float32 or float64: " + error);
        }
    }

    /**
     * Activations near 1000 square to about 1e6, past float16's largest value (65504): RMSNorm statistics in
     * float16 would be infinite and the normalised hidden state zero. In float32 the logits stay on the reference.
     */
    @Test
    void float16NormStatisticsAreKeptInFloat32() {
        Map<String, double[]> w = new HashMap<>(TinyModels.randomWeights(CONFIG, 24));
        double[] embed = w.get(TensorNames.EMBED).clone();
        for (int i = 0; i < embed.length; i++) {
            embed[i] *= 3000;
        }
        w.put(TensorNames.EMBED, embed);
        int[][] ids = TinyModels.randomIds(CONFIG, 2, 6, 25);
        int[][] mask = {{0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}};
        double[][][] expected = new ReferenceLlama(CONFIG, w).logits(ids, mask);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT16, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            double[] logits = Djl.toDoubles(model.logits(step, new TokenBatch(ids, mask, null), ForwardHooks.NONE));
            double error = LlamaModelTest.maxRelativeError(expected, logits, mask);
            assertTrue(error <= 2e-2, "float16 relative error with large activations " + error);
        }
    }
}
