package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TinyModels;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.WeightSource;
import dev.spruce.scope.LayerRange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The streamed output of a shard (row blocks computed one at a time from block-sized host copies) equals the
 * whole-tensor partial the job used to collect, bit for bit: G and Q are recomputed here from per-batch and
 * per-sample gradients summed in Java in the accumulator's order, and the partial from the closed form.
 */
class GradientAccumulatorBlocksTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);
    private static final int MICRO_BATCH = 2;
    private static final int ROWS_PER_BLOCK = 3; // 16 or 24 rows: uneven last blocks

    private static List<int[]> samples() {
        return Arrays.asList(TinyModels.randomIds(CONFIG, 5, 7, 41));
    }

    private static List<Member> members(Criterion c) {
        return new GroupScorer(CONFIG, ScoringSettings.blockWise(c, new LayerRange(0, 2), new LayerRange(0, 2)))
                .members();
    }

    /** Σ over batches of the gradient of each batch's summed row-mean loss (rows = batches of one for Q). */
    private static Map<String, double[]> gradientSums(LlamaModel model, List<int[]> samples, int batch,
                                                      boolean squared, Set<String> tensors) {
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (int from = 0; from < samples.size(); from += batch) {
            int[][] ids = samples.subList(from, Math.min(samples.size(), from + batch)).toArray(new int[0][]);
            try (NDManager step = NDManager.newBaseManager(Device.cpu())) {
                LlamaModel view = model.leafView(step, tensors);
                TokenBatch b = TokenBatch.selfSupervised(ids);
                try (AutoCloseable grad = Djl.gradScope(true)) {
                    Djl.backward(CausalLmLoss.sumOfRowMeans(step, view.nextTokenLogits(step, b, ForwardHooks.NONE), b));
                }
                for (String name : tensors) {
                    double[] g = Djl.toDoubles(Djl.gradient(view.weight(name), step));
                    double[] sum = sums.get(name);
                    if (sum == null) {
                        sums.put(name, squared ? square(g, model.dataType()) : g);
                    } else {
                        double[] term = squared ? square(g, model.dataType()) : g;
                        for (int i = 0; i < sum.length; i++) {
                            sum[i] = add(sum[i], term[i], model.dataType());
                        }
                    }
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return sums;
    }

    /** Addition in the model's own precision (float32 sums round every step, as libtorch's do). */
    private static double add(double a, double b, DataType type) {
        return type == DataType.FLOAT32 ? (float) ((float) a + (float) b) : a + b;
    }

    private static double[] square(double[] g, DataType type) {
        double[] out = new double[g.length];
        for (int i = 0; i < g.length; i++) {
            out[i] = type == DataType.FLOAT32 ? (float) ((float) g[i] * (float) g[i]) : g[i] * g[i];
        }
        return out;
    }

    /** The five samples in micro-batches of {@link #MICRO_BATCH}, as a shard's task adds them. */
    private static void addInMicroBatches(GradientAccumulator acc) {
        List<int[]> all = samples();
        for (int from = 0; from < all.size(); from += MICRO_BATCH) {
            acc.add(TokenBatch.selfSupervised(all.subList(from, Math.min(all.size(), from + MICRO_BATCH))
                    .toArray(new int[0][])));
        }
    }

    private static Set<String> tensors(List<Member> members) {
        Set<String> names = new java.util.LinkedHashSet<>();
        for (Member m : members) {
            names.add(m.tensor());
        }
        return names;
    }

    private static double[] concatenatedBlocks(GradientAccumulator acc, Member m, int rows) {
        List<Double> out = new ArrayList<>();
        for (int r0 = 0; r0 < rows; r0 += ROWS_PER_BLOCK) {
            for (double v : acc.partialRows(m, r0, Math.min(rows, r0 + ROWS_PER_BLOCK))) {
                out.add(v);
            }
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    @Test
    void float64BlocksEqualTheWholeTensorPartialBitForBit() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 5);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu())) {
            for (Criterion c : new Criterion[] {Criterion.PARAM_FIRST, Criterion.PARAM_MIX, Criterion.VECTORIZE}) {
                List<Member> members = members(c);
                Set<String> names = tensors(members);
                // PARAM_FIRST and VECTORIZE accumulate G in the leaves per micro-batch; PARAM_MIX per sample.
                int batch = c.needsSquaredGradients() ? 1 : MICRO_BATCH;
                Map<String, double[]> g = gradientSums(model, samples(), batch, false, names);
                Map<String, double[]> q = c.needsSquaredGradients()
                        ? gradientSums(model, samples(), 1, true, names) : null;
                try (GradientAccumulator acc = new GradientAccumulator(model, c, members)) {
                    addInMicroBatches(acc);
                    for (Member m : members) {
                        int[] rc = GradientAccumulator.rowsCols(model.weight(m.tensor()));
                        double[] wm = w.get(m.tensor());
                        double[] gm = g.get(m.tensor());
                        if (c == Criterion.VECTORIZE) {
                            double[] whole = Salience.partial(c, wm, gm, null, rc[0], rc[1], m.axis());
                            assertArrayEquals(whole, acc.vectorizePartial(m, ROWS_PER_BLOCK), 0.0, c + " " + m);
                            continue;
                        }
                        double[] whole = new double[wm.length];
                        for (int i = 0; i < whole.length; i++) {
                            whole[i] = c == Criterion.PARAM_FIRST ? wm[i] * gm[i]
                                    : wm[i] * gm[i] - 0.5 * wm[i] * wm[i] * q.get(m.tensor())[i];
                        }
                        assertArrayEquals(whole, concatenatedBlocks(acc, m, rc[0]), 0.0, c + " " + m);
                        for (int r0 = 0; r0 < rc[0]; r0 += ROWS_PER_BLOCK) { // what the job ships (device W⊙G)
                            PartialBlock shipped = acc.partialBlock(m, r0, Math.min(rc[0], r0 + ROWS_PER_BLOCK), false);
                            for (int i = 0; i < shipped.length(); i++) {
                                assertEquals(whole[r0 * rc[1] + i], shipped.get(i), 0.0, c + " shipped " + m);
                            }
                        }
                        assertArrayEquals(whole, acc.partial(m), 0.0, c + " whole " + m);
                    }
                }
            }
        }
    }

    @Test
    void float32BlocksShipTheRoundedExactProducts() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 6);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT32, Device.cpu())) {
            List<Member> members = members(Criterion.PARAM_FIRST);
            Map<String, double[]> g = gradientSums(model, samples(), MICRO_BATCH, false, tensors(members));
            try (GradientAccumulator acc = new GradientAccumulator(model, Criterion.PARAM_FIRST, members)) {
                addInMicroBatches(acc);
                for (Member m : members) {
                    int[] rc = GradientAccumulator.rowsCols(model.weight(m.tensor()));
                    double[] wm = w.get(m.tensor());
                    double[] gm = g.get(m.tensor());
                    for (int r0 = 0; r0 < rc[0]; r0 += ROWS_PER_BLOCK) {
                        int r1 = Math.min(rc[0], r0 + ROWS_PER_BLOCK);
                        PartialBlock block = acc.partialBlock(m, r0, r1, true); // W⊙G in float32 on the device
                        PartialBlock host = PartialBlock.of(acc.partialRows(m, r0, r1), true);
                        assertTrue(block.isNarrow());
                        assertEquals(block.length(), host.length());
                        assertEquals((r1 - r0) * rc[1], block.length());
                        for (int i = 0; i < block.length(); i++) {
                            int at = r0 * rc[1] + i;
                            // float32 weight times float32 G is exact in float64; one rounding to float32.
                            float expected = (float) ((double) (float) wm[at] * gm[at]);
                            assertEquals(expected, block.get(i), 0.0, m + " element " + at);
                            assertEquals(expected, host.get(i), 0.0, m + " host element " + at);
                        }
                    }
                }
            }
        }
    }

    @Test
    void blockPartitionerPlacesEveryKeyInContiguousRangesWithTheCountsAlone() {
        List<int[]> shapes = List.of(new int[] {10, 4}, new int[] {7, 3}, new int[] {1, 5});
        // 40 + 21 + 5 values x 8 bytes x 2 shards: far below one reduce task's budget, so one block partition per
        // shard, after the counts record's own.
        DistributedImportance.BlockPartitioner small =
                DistributedImportance.BlockPartitioner.of(Criterion.PARAM_FIRST, shapes, 8, 2, false);
        assertEquals(3, small.numPartitions());
        // Blocks of 2 rows (8 elements / 4 columns), 3 rows and 1 row: 5 + 3 + 1 keys and the counts record.
        long[] keys = new long[10];
        int k = 0;
        keys[k++] = -1L;
        int[] blocks = {5, 3, 1};
        for (int m = 0; m < 3; m++) {
            for (int b = 0; b < blocks[m]; b++) {
                keys[k++] = DistributedImportance.key(m, b);
            }
        }
        assertEquals(0, small.getPartition(-1L));
        int previous = 0;
        Map<Integer, Integer> perPartition = new HashMap<>();
        for (long key : keys) {
            int p = small.getPartition(new scala.Tuple2<>(key, 3));
            assertEquals(p, small.getPartition(key), "bare and shuffled keys agree");
            assertTrue(p >= previous, "contiguous ranges in key order");
            previous = p;
            perPartition.merge(p, 1, Integer::sum);
        }
        // the counts alone in 0; the 9 block keys split 5 + 4 (first 5 ordinals of 9 over 2 partitions)
        assertEquals(Map.of(0, 1, 1, 5, 2, 4), perPartition);
        // One partition per key once the shuffled bytes need it (capped at the number of keys).
        DistributedImportance.BlockPartitioner large = DistributedImportance.BlockPartitioner.of(Criterion.PARAM_FIRST,
                List.of(new int[] {1 << 14, 1 << 12}), 1 << 20, 8, true);
        // 2^26 values x 4 bytes x 8 shards = 2 GiB over 256 MiB tasks = 8 block partitions (of 64 keys) + the counts'
        assertEquals(9, large.numPartitions());
        // a tiny model: one block partition even with more shards than block keys
        DistributedImportance.BlockPartitioner tiny = DistributedImportance.BlockPartitioner.of(Criterion.PARAM_FIRST,
                List.of(new int[] {2, 2}), 8, 4, false);
        assertEquals(2, tiny.numPartitions());
        assertEquals(1, tiny.getPartition(DistributedImportance.key(0, 0)));
    }
}
