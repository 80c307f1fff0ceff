package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Invariant 2 (gradients equal central differences) and the DJL traps P1 and P3. */
class GradientTest {
    private static final LlamaConfig CONFIG = TinyModels.builder(2, 4, 2)
            .layerWidths(new int[] {4, 2}, new int[] {2, 1}, new int[] {24, 10}).build();

    /** Analytic gradients of every weight of the model, after an optional GC between forward and backward. */
    static Map<String, double[]> gradients(LlamaModel model, TokenBatch batch, boolean collectGarbage) {
        return gradients(model, batch, collectGarbage, false);
    }

    /** The same, the loss taken over {@link LlamaModel#nextTokenLogits} when {@code nextTokenOnly}. */
    static Map<String, double[]> gradients(LlamaModel model, TokenBatch batch, boolean collectGarbage,
                                           boolean nextTokenOnly) {
        Map<String, double[]> grads = new LinkedHashMap<>();
        for (NDArray w : model.weights().values()) {
            Djl.requireGradient(w);
            Djl.zeroGradient(w);
        }
        try (AutoCloseable grad = Djl.gradScope(true); NDManager step = NDManager.newBaseManager(Device.cpu())) {
            NDArray logits = nextTokenOnly ? model.nextTokenLogits(step, batch, ForwardHooks.NONE)
                    : model.logits(step, batch, ForwardHooks.NONE);
            NDArray loss = CausalLmLoss.mean(step, logits, batch);
            if (collectGarbage) {
                for (int i = 0; i < 5; i++) {
                    System.gc();
                    Thread.sleep(20);
                }
            }
            Djl.backward(loss);
            for (Map.Entry<String, NDArray> e : model.weights().entrySet()) {
                grads.put(e.getKey(), Djl.toDoubles(Djl.gradient(e.getValue(), step)));
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return grads;
    }

    static TokenBatch batch(LlamaConfig c) {
        int[][] ids = TinyModels.randomIds(c, 2, 6, 17);
        int[][] mask = {{0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}};
        int[][] labels = {ids[0].clone(), ids[1].clone()};
        labels[0][0] = TokenBatch.IGNORE;
        labels[1][3] = TokenBatch.IGNORE;
        return new TokenBatch(ids, mask, labels);
    }

    private static void assertMatchesCentralDifferences(Map<String, double[]> grads, Map<String, double[]> w,
                                                        TokenBatch batch) {
        ReferenceLlama ref = new ReferenceLlama(CONFIG, w);
        for (Map.Entry<String, double[]> e : grads.entrySet()) {
            int n = e.getValue().length;
            int[] picks = {0, n / 3, n / 2, n - 1};
            double[] numeric = ref.centralDifferenceGradient(e.getKey(), batch.ids(), batch.attentionMask(),
                    batch.labels(), 1e-5, picks);
            double scale = 0;
            for (double g : e.getValue()) {
                scale = Math.max(scale, Math.abs(g));
            }
            assertTrue(scale > 0, e.getKey() + " has an all-zero gradient");
            for (int i = 0; i < picks.length; i++) {
                double analytic = e.getValue()[picks[i]];
                assertEquals(numeric[i], analytic, 1e-6 * scale, e.getKey() + "[" + picks[i] + "]");
            }
        }
    }

    @Test
    void everyWeightKindMatchesCentralDifferences() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 31);
        TokenBatch batch = batch(CONFIG);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu())) {
            Map<String, double[]> grads = gradients(model, batch, false);
            assertEquals(TensorNames.expectedShapes(CONFIG).keySet(), grads.keySet());
            assertMatchesCentralDifferences(grads, w, batch);
        }
    }

    /**
     * The LM head run on the t-1 predicting positions only: the same logits as the full forward without its last
     * position, the same loss, and gradients that still match central differences of the float64 reference.
     */
    @Test
    void nextTokenLogitsGiveTheFullForwardsLossAndGradients() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 33);
        TokenBatch batch = batch(CONFIG);
        int b = batch.batchSize();
        int t = batch.length();
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            NDArray full = model.logits(step, batch, ForwardHooks.NONE);
            NDArray next = model.nextTokenLogits(step, batch, ForwardHooks.NONE);
            int vocab = CONFIG.vocabSize();
            assertEquals(new ai.djl.ndarray.types.Shape(b, t - 1, vocab), next.getShape());
            double[] f = Djl.toDoubles(full);
            double[] n = Djl.toDoubles(next);
            for (int r = 0; r < b; r++) {
                for (int p = 0; p < t - 1; p++) {
                    for (int v = 0; v < vocab; v++) {
                        double expected = f[(r * t + p) * vocab + v];
                        assertEquals(expected, n[(r * (t - 1) + p) * vocab + v], 1e-13 * Math.max(1, Math.abs(expected)));
                    }
                }
            }
            double lossFull = Djl.toDoubles(CausalLmLoss.sum(step, full, batch))[0];
            double lossNext = Djl.toDoubles(CausalLmLoss.sum(step, next, batch))[0];
            assertEquals(lossFull, lossNext, 1e-12 * Math.abs(lossFull));
            NDArray shortened = Djl.withoutLastPosition(next);
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> CausalLmLoss.sum(step, shortened, batch));
            assertTrue(e.getMessage().contains("hold " + (t - 2) + " positions for a batch of " + t + " tokens"),
                    e.getMessage());
            assertMatchesCentralDifferences(gradients(model, batch, false, true), w, batch);
        }
    }

    /** P1: scalars created as NDArrays on the step manager survive a GC between forward and backward. */
    @Test
    void gradientsSurviveGarbageCollectionBetweenForwardAndBackward() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 32);
        TokenBatch batch = batch(CONFIG);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu())) {
            Map<String, double[]> calm = gradients(model, batch, false);
            Map<String, double[]> collected = gradients(model, batch, true);
            for (String name : calm.keySet()) {
                double[] a = calm.get(name);
                double[] b = collected.get(name);
                for (int i = 0; i < a.length; i++) {
                    assertTrue(Double.isFinite(b[i]), name);
                    assertEquals(a[i], b[i], 0.0, name + "[" + i + "]");
                }
            }
            assertMatchesCentralDifferences(collected, w, batch);
        }
    }

    /** P3: per-thread grad mode lets concurrent tasks in one JVM each get their own correct gradients. */
    @Test
    void concurrentThreadsComputeIndependentGradients() throws Exception {
        int threads = 3;
        List<Map<String, double[]>> weights = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            weights.add(TinyModels.randomWeights(CONFIG, 40 + i));
        }
        TokenBatch batch = batch(CONFIG);
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Map<String, double[]>>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                Map<String, double[]> w = weights.get(i);
                results.add(pool.submit(() -> {
                    try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w),
                            DataType.FLOAT64, Device.cpu())) {
                        start.await();
                        Map<String, double[]> g = null;
                        for (int r = 0; r < 3; r++) {
                            g = gradients(model, batch, false);
                        }
                        return g;
                    }
                }));
            }
            for (int i = 0; i < threads; i++) {
                assertMatchesCentralDifferences(results.get(i).get(), weights.get(i), batch);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void gradScopeRestoresThePreviousMode() throws Exception {
        JniUtils.setGradMode(false);
        try (AutoCloseable on = Djl.gradScope(true)) {
            assertTrue(JniUtils.isGradMode());
        }
        assertFalse(JniUtils.isGradMode());
    }
}
