package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Rotary tables and causal biases cached on the model's device: values, sharing and concurrent use. */
class DeviceTablesTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);

    @Test
    void paddedBatchesPastTheFirstRotaryTableMatchTheReference() {
        int t = 90; // positions up to 89: the second table size (128 positions)
        int[][] ids = TinyModels.randomIds(CONFIG, 3, t, 41);
        int[][] mask = new int[3][t];
        for (int s = 0; s < t; s++) {
            mask[0][s] = s < 7 ? 0 : 1; // left padding
            mask[1][s] = 1;
            mask[2][s] = s < t - 20 ? 1 : 0; // right padding
        }
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 42);
        double[][][] expected = new ReferenceLlama(CONFIG, w).logits(ids, mask);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            double[] logits = Djl.toDoubles(model.logits(step, new TokenBatch(ids, mask, null), ForwardHooks.NONE));
            assertTrue(LlamaModelTest.maxRelativeError(expected, logits, mask) <= 1e-6);
            double[] unpadded = Djl.toDoubles(model.logits(step, TokenBatch.of(ids), ForwardHooks.NONE));
            assertTrue(LlamaModelTest.maxRelativeError(new ReferenceLlama(CONFIG, w).logits(ids, null), unpadded,
                    null) <= 1e-6);
        }
    }

    @Test
    void tablesAreMadeOncePerKeyAndSharedByViews() {
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG, 43)),
                DataType.FLOAT32, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            DeviceTables tables = model.tables();
            assertSame(tables.rope(3, DataType.FLOAT32), tables.rope(63, DataType.FLOAT32));
            NDArray[] grown = tables.rope(64, DataType.FLOAT32);
            assertEquals(128, grown[0].getShape().get(0));
            assertNotSame(tables.rope(3, DataType.FLOAT32), grown);
            assertSame(tables.causal(step, 5, 9, DataType.FLOAT32, -1e9), tables.causal(step, 5, 9, DataType.FLOAT32,
                    -1e9));
            assertSame(tables.constant(0.5, DataType.FLOAT32), tables.constant(0.5, DataType.FLOAT32));
            try (LlamaModel view = model.leafView(step, List.of(TensorNames.EMBED))) {
                assertSame(tables, view.tables());
                assertSame(tables, view.withWeights(Map.of()).tables());
            }
        }
    }

    @Test
    void aCausalBiasPastTheBudgetIsMadeOnTheStepWithTheSameValues() {
        try (NDManager owner = NDManager.newBaseManager(Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            DeviceTables cached = new DeviceTables(owner, Rope.inverseFrequencies(CONFIG));
            DeviceTables none = new DeviceTables(owner, Rope.inverseFrequencies(CONFIG), 0);
            NDArray[] a = cached.causal(step, 3, 7, DataType.FLOAT64, -1e9);
            NDArray[] b = none.causal(step, 3, 7, DataType.FLOAT64, -1e9);
            assertSame(step, b[0].getManager());
            // Independent: query t (at position 4 + t) sees keys 0..4+t, and a padding query only itself.
            double[] causal = new double[3 * 7];
            double[] self = new double[3 * 7];
            for (int t = 0; t < 3; t++) {
                for (int k = 0; k < 7; k++) {
                    causal[t * 7 + k] = k <= 4 + t ? 0 : -1e9;
                    self[t * 7 + k] = k == 4 + t ? 0 : -1e9;
                }
            }
            for (NDArray[] tables : List.of(a, b)) {
                assertArrayEquals(causal, tables[0].toDoubleArray());
                assertArrayEquals(self, tables[1].toDoubleArray());
            }
        }
    }

    @Test
    void concurrentForwardsOnOneCachedModelEqualSequentialOnes() throws Exception {
        int threads = 3;
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG, 44)),
                DataType.FLOAT32, Device.cpu())) {
            List<TokenBatch> batches = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                int t = 20 + 60 * i; // each thread needs its own rotary table and causal bias
                int[][] ids = TinyModels.randomIds(CONFIG, 2, t, 45 + i);
                int[][] mask = new int[2][t];
                for (int s = 0; s < t; s++) {
                    mask[0][s] = 1;
                    mask[1][s] = s < i ? 0 : 1;
                }
                batches.add(new TokenBatch(ids, mask, null));
            }
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Future<double[]>> results = new ArrayList<>();
            for (TokenBatch batch : batches) {
                results.add(pool.submit(() -> {
                    start.await();
                    try (NDManager step = NDManager.newBaseManager(Device.cpu())) {
                        return Djl.toDoubles(model.logits(step, batch, ForwardHooks.NONE));
                    }
                }));
            }
            pool.shutdown();
            for (int i = 0; i < threads; i++) {
                double[] concurrent = results.get(i).get();
                try (NDManager step = NDManager.newBaseManager(Device.cpu())) {
                    assertArrayEquals(Djl.toDoubles(model.logits(step, batches.get(i), ForwardHooks.NONE)), concurrent,
                            "thread " + i);
                }
            }
        }
    }
}
