package dev.spruce.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.WeightSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LoraAdaptersTest {
    /** A pruned-looking model: per-layer widths differ, and layer 1 has no MLP. */
    private static final LlamaConfig CONFIG = TinyModels.builder(3, 4, 2)
            .layerWidths(new int[] {4, 2, 4}, new int[] {2, 1, 2}, new int[] {24, 0, 11}).build();

    private static Map<String, double[]> nonZeroAdapters(LoraSettings s) {
        Map<String, double[]> p = LoraAdapters.initialize(CONFIG, s, 3);
        SplittableRandom r = new SplittableRandom(4);
        for (Map.Entry<String, double[]> e : p.entrySet()) {
            if (e.getKey().contains("lora_B")) {
                for (int i = 0; i < e.getValue().length; i++) {
                    e.getValue()[i] = r.nextGaussian() * 0.2;
                }
            }
        }
        return p;
    }

    private static Map<String, NDArray> onStep(NDManager step, Map<String, double[]> params, LoraSettings s) {
        Map<String, NDArray> out = new HashMap<>();
        for (Map.Entry<String, long[][]> e : LoraAdapters.shapes(CONFIG, s).entrySet()) {
            String a = LoraAdapters.aName(e.getKey());
            String b = LoraAdapters.bName(e.getKey());
            out.put(a, step.create(params.get(a), new Shape(e.getValue()[0])));
            out.put(b, step.create(params.get(b), new Shape(e.getValue()[1])));
        }
        return out;
    }

    @Test
    void shapesFollowPerLayerWidthsAndSkipEmptyModules() {
        Map<String, long[][]> shapes = LoraAdapters.shapes(CONFIG, LoraSettings.reference());
        assertEquals(7 + 4 + 7, shapes.size());
        long[][] q1 = shapes.get(TensorNames.layer(1, TensorNames.Q));
        assertEquals(List.of(8L, 16L), List.of(q1[0][0], q1[0][1]));
        assertEquals(List.of(8L, 8L), List.of(q1[1][0], q1[1][1]));
        assertFalse(shapes.containsKey(TensorNames.layer(1, TensorNames.GATE)));
        long[][] down2 = shapes.get(TensorNames.layer(2, TensorNames.DOWN));
        assertEquals(11, down2[0][1]);
    }

    @Test
    void freshAdaptersLeaveLogitsUnchangedAndInitialiseAKaimingUniform() {
        LoraSettings s = LoraSettings.reference();
        Map<String, double[]> p = LoraAdapters.initialize(CONFIG, s, 1);
        double[] a = p.get(LoraAdapters.aName(TensorNames.layer(0, TensorNames.Q)));
        double bound = 1 / Math.sqrt(CONFIG.hiddenSize());
        double max = 0;
        for (double v : a) {
            assertTrue(Math.abs(v) <= bound);
            max = Math.max(max, Math.abs(v));
        }
        assertTrue(max > 0.8 * bound, "A is not spread over the Kaiming bound");
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 2);
        int[][] ids = TinyModels.randomIds(CONFIG, 2, 5, 3);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            double[] plain = Djl.toDoubles(model.logits(step, TokenBatch.of(ids), ForwardHooks.NONE));
            LoraAdapters hooks = LoraAdapters.of(step, CONFIG, s, onStep(step, p, s), DataType.FLOAT64, null);
            double[] adapted = Djl.toDoubles(model.logits(step, TokenBatch.of(ids), hooks));
            for (int i = 0; i < plain.length; i++) {
                assertEquals(plain[i], adapted[i], 0.0);
            }
        }
    }

    @Test
    void mergedWeightsGiveTheAdapterLogits() {
        LoraSettings s = new LoraSettings(3, 7, 0.0, LoraSettings.ALL_LINEAR);
        Map<String, double[]> p = nonZeroAdapters(s);
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 5);
        Map<String, double[]> merged = new HashMap<>(w);
        for (Map.Entry<String, long[][]> e : LoraAdapters.shapes(CONFIG, s).entrySet()) {
            long[] shape = TensorNames.expectedShapes(CONFIG).get(e.getKey());
            merged.put(e.getKey(), LoraAdapters.merge(w.get(e.getKey()), p.get(LoraAdapters.aName(e.getKey())),
                    p.get(LoraAdapters.bName(e.getKey())), (int) shape[0], (int) shape[1], s.rank(), s.scaling()));
        }
        int[][] ids = TinyModels.randomIds(CONFIG, 2, 6, 8);
        try (LlamaModel base = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu());
             LlamaModel mergedModel = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, merged), DataType.FLOAT64,
                     Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            LoraAdapters hooks = LoraAdapters.of(step, CONFIG, s, onStep(step, p, s), DataType.FLOAT64, null);
            double[] adapted = Djl.toDoubles(base.logits(step, TokenBatch.of(ids), hooks));
            double[] plain = Djl.toDoubles(base.logits(step, TokenBatch.of(ids), ForwardHooks.NONE));
            double[] viaMerge = Djl.toDoubles(mergedModel.logits(step, TokenBatch.of(ids), ForwardHooks.NONE));
            double diff = 0;
            for (int i = 0; i < adapted.length; i++) {
                assertEquals(adapted[i], viaMerge[i], 1e-9);
                diff = Math.max(diff, Math.abs(adapted[i] - plain[i]));
            }
            assertTrue(diff > 1e-3, "the adapters had no effect, the test proves nothing");
        }
    }

    @Test
    void dropoutDependsOnTheRowSeedNotOnTheBatch() {
        LoraSettings s = new LoraSettings(4, 8, 0.3, LoraSettings.ALL_LINEAR);
        Map<String, double[]> p = nonZeroAdapters(s);
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 6);
        int[][] ids = TinyModels.randomIds(CONFIG, 3, 5, 9);
        int v = CONFIG.vocabSize();
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            Map<String, NDArray> params = onStep(step, p, s);
            double[] batch = Djl.toDoubles(model.logits(step, TokenBatch.of(ids),
                    LoraAdapters.of(step, CONFIG, s, params, DataType.FLOAT64, new long[] {10, 11, 12})));
            double[] alone = Djl.toDoubles(model.logits(step, TokenBatch.of(new int[][] {ids[1]}),
                    LoraAdapters.of(step, CONFIG, s, params, DataType.FLOAT64, new long[] {11})));
            double[] otherSeed = Djl.toDoubles(model.logits(step, TokenBatch.of(new int[][] {ids[1]}),
                    LoraAdapters.of(step, CONFIG, s, params, DataType.FLOAT64, new long[] {99})));
            double seedEffect = 0;
            for (int i = 0; i < alone.length; i++) {
                assertEquals(batch[5 * v + i], alone[i], 1e-12);
                seedEffect = Math.max(seedEffect, Math.abs(alone[i] - otherSeed[i]));
            }
            assertTrue(seedEffect > 1e-6, "dropout had no effect");
        }
    }

    /** Gradients of every adapter parameter of the summed LM loss, adapters in {@code adapterType}. */
    private static Map<String, double[]> adapterGradients(LlamaModel model, Map<String, double[]> p, LoraSettings s,
                                                          DataType adapterType, int[][] ids, long[] seeds) {
        Map<String, double[]> grads = new HashMap<>();
        try (NDManager step = NDManager.newBaseManager(Device.cpu()); AutoCloseable grad = Djl.gradScope(true)) {
            Map<String, NDArray> leaves = new HashMap<>();
            for (Map.Entry<String, long[][]> e : LoraAdapters.shapes(CONFIG, s).entrySet()) {
                for (int ab = 0; ab < 2; ab++) {
                    String name = ab == 0 ? LoraAdapters.aName(e.getKey()) : LoraAdapters.bName(e.getKey());
                    NDArray leaf = Djl.fromDoubles(step, p.get(name), new Shape(e.getValue()[ab]), adapterType);
                    Djl.requireGradient(leaf);
                    leaves.put(name, leaf);
                }
            }
            TokenBatch batch = TokenBatch.selfSupervised(ids);
            NDArray logits = model.logits(step, batch, LoraAdapters.of(step, CONFIG, s, leaves, adapterType, seeds));
            Djl.backward(CausalLmLoss.sum(step, logits, batch));
            for (Map.Entry<String, NDArray> e : leaves.entrySet()) {
                NDArray g = Djl.gradient(e.getValue(), step);
                assertEquals(adapterType, g.getDataType(), e.getKey());
                grads.put(e.getKey(), Djl.toDoubles(g));
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return grads;
    }

    @Test
    void aFloat16ModelTrainsFloat32AdaptersWhoseGradientsFollowFloat64() {
        LoraSettings s = new LoraSettings(4, 8, 0.2, LoraSettings.ALL_LINEAR);
        Map<String, double[]> p = nonZeroAdapters(s);
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 7);
        int[][] ids = TinyModels.randomIds(CONFIG, 2, 6, 10);
        long[] seeds = {21, 22};
        Map<String, double[]> exact;
        Map<String, double[]> half;
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu())) {
            exact = adapterGradients(model, p, s, DataType.FLOAT64, ids, seeds);
        }
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT16, Device.cpu())) {
            half = adapterGradients(model, p, s, DataType.FLOAT32, ids, seeds);
        }
        double err = 0;
        double scale = 0;
        for (Map.Entry<String, double[]> e : exact.entrySet()) {
            for (int i = 0; i < e.getValue().length; i++) {
                err = Math.max(err, Math.abs(e.getValue()[i] - half.get(e.getKey())[i]));
                scale = Math.max(scale, Math.abs(e.getValue()[i]));
            }
        }
        assertTrue(scale > 0, "no gradient reached the adapters");
        assertTrue(err / scale <= 2e-2, "float16 model, float32 adapters: relative gradient error " + err / scale);
        assertTrue(err / scale > 1e-7, "the model did not compute in float16: " + err / scale);
    }

    @Test
    void dropoutComputedByLibtorchEqualsDropoutComputedInJava() {
        LoraSettings s = new LoraSettings(4, 8, 0.3, LoraSettings.ALL_LINEAR);
        Map<String, double[]> p = nonZeroAdapters(s);
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 8);
        int[][] ids = TinyModels.randomIds(CONFIG, 3, 5, 12);
        long[] seeds = {31, 32, 33};
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT32, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            Map<String, NDArray> params = new HashMap<>();
            onStep(step, p, s).forEach((name, a) -> params.put(name, a.toType(DataType.FLOAT32, false)));
            double[] host = Djl.toDoubles(model.logits(step, TokenBatch.of(ids),
                    LoraAdapters.of(step, CONFIG, s, params, DataType.FLOAT32, seeds)));
            double[] device = Djl.toDoubles(model.logits(step, TokenBatch.of(ids),
                    LoraAdapters.of(step, CONFIG, s, params, DataType.FLOAT32, seeds).onDevice()));
            double[] none = Djl.toDoubles(model.logits(step, TokenBatch.of(ids),
                    LoraAdapters.of(step, CONFIG, s, params, DataType.FLOAT32, null)));
            assertArrayEquals(host, device, 0.0);
            double effect = 0;
            for (int i = 0; i < host.length; i++) {
                effect = Math.max(effect, Math.abs(host[i] - none[i]));
            }
            assertTrue(effect > 1e-4, "dropout had no effect");
        }
    }

    @Test
    void badSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new LoraSettings(0, 16, 0.05, LoraSettings.ALL_LINEAR));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LoraSettings(8, 16, 0.05, List.of("qkv")));
        assertTrue(e.getMessage().contains("unknown module 'qkv'"), e.getMessage());
    }
}
