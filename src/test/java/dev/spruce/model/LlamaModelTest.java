package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Invariant 1: DJL logits equal the independent float64 reference. */
class LlamaModelTest {

    static double maxRelativeError(double[][][] expected, double[] actualFlat, int[][] mask) {
        double maxErr = 0;
        double scale = 0;
        int i = 0;
        for (int b = 0; b < expected.length; b++) {
            for (int t = 0; t < expected[b].length; t++) {
                for (int v = 0; v < expected[b][t].length; v++, i++) {
                    if (mask != null && mask[b][t] == 0) {
                        continue;
                    }
                    maxErr = Math.max(maxErr, Math.abs(expected[b][t][v] - actualFlat[i]));
                    scale = Math.max(scale, Math.abs(expected[b][t][v]));
                }
            }
        }
        return maxErr / scale;
    }

    private static double compare(LlamaConfig c, long seed, int[][] ids, int[][] mask, DataType type) {
        Map<String, double[]> w = TinyModels.randomWeights(c, seed);
        double[][][] expected = new ReferenceLlama(c, w).logits(ids, mask);
        try (LlamaModel model = LlamaModel.load(c, WeightSource.of(c, w), type, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            NDArray logits = model.logits(step, new TokenBatch(ids, mask, null), ForwardHooks.NONE);
            assertEquals(ids.length * ids[0].length * c.vocabSize(), logits.size());
            return maxRelativeError(expected, Djl.toDoubles(logits), mask);
        }
    }

    @Test
    void mhaMatchesReferenceInFloat64AndFloat32() {
        LlamaConfig c = TinyModels.config(2, 4, 4);
        int[][] ids = TinyModels.randomIds(c, 2, 7, 11);
        assertTrue(compare(c, 1, ids, null, DataType.FLOAT64) <= 1e-6);
        assertTrue(compare(c, 1, ids, null, DataType.FLOAT32) <= 1e-4);
    }

    @Test
    void gqaAndMqaMatchReference() {
        for (int kv : new int[] {2, 1}) {
            LlamaConfig c = TinyModels.config(2, 4, kv);
            int[][] ids = TinyModels.randomIds(c, 2, 6, 5 + kv);
            assertTrue(compare(c, 2, ids, null, DataType.FLOAT64) <= 1e-6, "kv=" + kv);
            assertTrue(compare(c, 2, ids, null, DataType.FLOAT32) <= 1e-4, "kv=" + kv);
        }
    }

    @Test
    void tiedEmbeddingsMatchReference() {
        LlamaConfig c = TinyModels.config(2, 4, 2, true);
        int[][] ids = TinyModels.randomIds(c, 1, 9, 3);
        assertTrue(compare(c, 3, ids, null, DataType.FLOAT64) <= 1e-6);
    }

    @Test
    void nonUniformLayerWidthsMatchReference() {
        LlamaConfig c = TinyModels.builder(4, 4, 2)
                .layerWidths(new int[] {4, 2, 0, 4}, new int[] {2, 1, 0, 2}, new int[] {24, 7, 0, 0})
                .build();
        int[][] ids = TinyModels.randomIds(c, 2, 5, 9);
        assertTrue(compare(c, 4, ids, null, DataType.FLOAT64) <= 1e-6);
        assertTrue(compare(c, 4, ids, null, DataType.FLOAT32) <= 1e-4);
    }

    @Test
    void paddedBatchesMatchReferenceAtRealTokens() {
        LlamaConfig c = TinyModels.config(2, 4, 2);
        int[][] ids = TinyModels.randomIds(c, 3, 6, 21);
        int[][] mask = {{0, 0, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}};
        assertTrue(compare(c, 5, ids, mask, DataType.FLOAT64) <= 1e-6);
        assertTrue(compare(c, 5, ids, mask, DataType.FLOAT32) <= 1e-4);
    }

    @Test
    void ropeScalingMatchesReference() {
        LlamaConfig llama3 = TinyModels.builder(1, 4, 2).ropeTheta(500000).ropeScaling(
                new LlamaConfig.RopeScaling("llama3", 8, 1, 4, 8)).build();
        LlamaConfig linear = TinyModels.builder(1, 4, 4).ropeScaling(
                new LlamaConfig.RopeScaling("linear", 4, 0, 0, 0)).build();
        for (LlamaConfig c : new LlamaConfig[] {llama3, linear}) {
            int[][] ids = TinyModels.randomIds(c, 1, 12, 8);
            assertTrue(compare(c, 6, ids, null, DataType.FLOAT64) <= 1e-6, c.ropeScaling().type());
        }
    }

    /** Half precision (the GPU option) runs the same pass: norms and softmax in float32, the rest in float16. */
    @Test
    void float16ComputeStaysCloseToTheReference() {
        LlamaConfig c = TinyModels.config(2, 4, 2);
        int[][] ids = TinyModels.randomIds(c, 2, 6, 13);
        int[][] mask = {{0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}};
        double error = compare(c, 14, ids, mask, DataType.FLOAT16);
        assertTrue(error <= 1e-2, "float16 relative error " + error);
        assertTrue(error > 1e-6, "float16 compute looks like float32 or float64: " + error);
    }

    @Test
    void bfloat16IsRefusedOnCpu() {
        LlamaConfig c = TinyModels.config(1, 4, 4);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> LlamaModel.load(c, WeightSource.of(c, TinyModels.randomWeights(c, 1)), DataType.BFLOAT16,
                        Device.cpu()));
        assertTrue(e.getMessage().contains("bfloat16 arrays abort the JVM on cpu()"), e.getMessage());
    }

    @Test
    void lossMatchesReferenceWithIgnoredLabels() {
        LlamaConfig c = TinyModels.config(2, 4, 2);
        Map<String, double[]> w = TinyModels.randomWeights(c, 7);
        int[][] ids = TinyModels.randomIds(c, 2, 6, 1);
        int[][] labels = {ids[0].clone(), ids[1].clone()};
        labels[0][2] = TokenBatch.IGNORE;
        labels[1][5] = TokenBatch.IGNORE;
        double expected = new ReferenceLlama(c, w).loss(ids, null, labels);
        try (LlamaModel model = LlamaModel.load(c, WeightSource.of(c, w), DataType.FLOAT64, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            TokenBatch batch = new TokenBatch(ids, null, labels);
            NDArray logits = model.logits(step, batch, ForwardHooks.NONE);
            double actual = CausalLmLoss.mean(step, logits, batch).getDouble();
            assertEquals(expected, actual, 1e-12 * Math.abs(expected));
        }
    }

    @Test
    void aViewWithReplacedWeightsGivesTheLogitsOfAModelLoadedWithThem() {
        LlamaConfig c = TinyModels.config(2, 4, 2);
        Map<String, double[]> w = TinyModels.randomWeights(c, 3);
        Map<String, double[]> other = TinyModels.randomWeights(c, 4);
        String q = TensorNames.layer(1, TensorNames.Q);
        Map<String, double[]> expectedWeights = new HashMap<>(w);
        expectedWeights.put(q, other.get(q));
        expectedWeights.put(TensorNames.EMBED, other.get(TensorNames.EMBED));
        int[][] ids = TinyModels.randomIds(c, 2, 5, 6);
        try (LlamaModel model = LlamaModel.load(c, WeightSource.of(c, w), DataType.FLOAT64, Device.cpu());
             LlamaModel expectedModel = LlamaModel.load(c, WeightSource.of(c, expectedWeights), DataType.FLOAT64,
                     Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            Map<String, long[]> shapes = TensorNames.expectedShapes(c);
            Map<String, NDArray> replacements = new HashMap<>();
            replacements.put(q, step.create(other.get(q), new Shape(shapes.get(q))));
            replacements.put(TensorNames.EMBED, step.create(other.get(TensorNames.EMBED),
                    new Shape(shapes.get(TensorNames.EMBED))));
            LlamaModel view = model.withWeights(replacements);
            double[] viaView = Djl.toDoubles(view.logits(step, TokenBatch.of(ids), ForwardHooks.NONE));
            double[] expected = Djl.toDoubles(expectedModel.logits(step, TokenBatch.of(ids), ForwardHooks.NONE));
            double[] original = Djl.toDoubles(model.logits(step, TokenBatch.of(ids), ForwardHooks.NONE));
            double change = 0;
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], viaView[i], 1e-12);
                change = Math.max(change, Math.abs(expected[i] - original[i]));
            }
            assertTrue(change > 1e-3, "the replacement did not change the logits, the test proves nothing");
            view.close();
            assertEquals(w.get(q)[0], model.weight(q).toDoubleArray()[0], 0.0, "closing the view freed the model");

            String k = TensorNames.layer(0, TensorNames.K);
            long[] kShape = shapes.get(k);
            NDArray transposed = step.create(other.get(k), new Shape(kShape[1], kShape[0]));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.withWeights(Map.of(k, transposed)));
            assertTrue(e.getMessage().contains("'" + k + "'"), e.getMessage());
        }
    }
}
