package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.scope.LayerRange;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Invariant 3, masked == pruned: the full model with the removed heads, MLP channels or hidden channels masked
 * (or their output weights zeroed) gives the logits of the model {@link PlanApplier} wrote, in float64.
 */
class MaskedEqualsPrunedTest {
    private static final double TOLERANCE = 1e-9;

    @TempDir
    java.nio.file.Path tmp;

    @Test
    void mhaHeadsAndMlpChannels() {
        // 4 heads of 4 channels, r = 0.5: 16 - int(8.0) = 8 channels -> 2 heads; MLP 24 -> 12, in every layer.
        checkBlockWise(TinyModels.config(3, 4, 4), new LayerRange(0, 3), 41);
    }

    @Test
    void gqaKvGroupsAndMlpChannels() {
        // 2 kv groups of 2 query heads, r = 0.5: 8 - int(4.0) = 4 channels -> 1 kv group; layer 0 untouched.
        checkBlockWise(TinyModels.config(3, 4, 2), new LayerRange(1, 3), 42);
    }

    @Test
    void hiddenChannelsUntiedAndTied() {
        for (boolean tied : new boolean[] {false, true}) {
            LlamaConfig c = TinyModels.config(2, 4, 2, tied);
            PrunePlan plan = planAndApply(c, PlanSettings.builder().ratio(0.25).channelWise(true)
                    .layers(LayerRange.all(2)).build(), 43, "tied-" + tied);
            assertEquals(12, plan.prunedConfig().hiddenSize());
            int[][] ids = TinyModels.randomIds(c, 2, 7, 43);
            double[] pruned = logits(prunedDir("tied-" + tied), ids);
            try (LlamaModel full = ModelFiles.load(sourceDir("tied-" + tied), DataType.FLOAT64, Device.cpu())) {
                double[] masked = logits(full, ids, m -> masks(m, plan));
                assertTrue(maxAbsDifference(masked, pruned) <= TOLERANCE, "tied=" + tied);
                assertTrue(maxAbsDifference(logits(full, ids, m -> ForwardHooks.NONE), pruned) > 1e-3,
                        "removing 4 of 16 hidden channels must change the logits");
            }
        }
    }

    private void checkBlockWise(LlamaConfig c, LayerRange layers, long seed) {
        PrunePlan plan = planAndApply(c, PlanSettings.builder().ratio(0.5).layers(layers).build(), seed, "m");
        for (int l = layers.start(); l < layers.end(); l++) {
            assertEquals(c.layerHeads(l) / 2, plan.layer(l).headsKept());
            assertEquals(12, plan.layer(l).intermediateKept());
        }
        int[][] ids = TinyModels.randomIds(c, 2, 7, seed);
        double[] pruned = logits(prunedDir("m"), ids);
        try (LlamaModel full = ModelFiles.load(sourceDir("m"), DataType.FLOAT64, Device.cpu())) {
            double[] masked = logits(full, ids, m -> masks(m, plan));
            assertTrue(maxAbsDifference(masked, pruned) <= TOLERANCE, "masked vs pruned: "
                    + maxAbsDifference(masked, pruned));
            assertTrue(maxAbsDifference(logits(full, ids, m -> ForwardHooks.NONE), pruned) > 1e-3,
                    "pruning half of the heads and channels must change the logits");
        }
        Map<String, double[]> zeroed = zeroRemovedOutputs(c, TinyModels.randomWeights(c, seed), plan);
        try (LlamaModel full = LlamaModel.load(c, WeightSource.of(c, zeroed), DataType.FLOAT64, Device.cpu())) {
            double[] withoutHooks = logits(full, ids, m -> ForwardHooks.NONE);
            assertTrue(maxAbsDifference(withoutHooks, pruned) <= TOLERANCE, "zeroed vs pruned: "
                    + maxAbsDifference(withoutHooks, pruned));
        }
    }

    private PrunePlan planAndApply(LlamaConfig c, PlanSettings settings, long seed, String name) {
        ApplyFixtures.writeModel(tmp.resolve(name + "-source"), c, TinyModels.randomWeights(c, seed), DType.F64,
                ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        PrunePlan plan = Planner.plan(c, ApplyFixtures.randomScores(c, seed), settings);
        PlanApplier.apply(sourceDir(name), plan, prunedDir(name), ApplyOptions.defaults());
        return plan;
    }

    private Path sourceDir(String name) {
        return ApplyFixtures.hadoop(tmp.resolve(name + "-source"));
    }

    private Path prunedDir(String name) {
        return ApplyFixtures.hadoop(tmp.resolve(name + "-pruned"));
    }

    /** Masks that zero what the plan removes: one entry per query head, MLP channel and hidden channel. */
    private static ForwardHooks masks(NDManager m, PrunePlan plan) {
        LlamaConfig c = plan.sourceConfig();
        return new ForwardHooks() {
            @Override
            public NDArray headMask(int layer) {
                return m.create(indicator(plan.layer(layer).keptHeads(), c.layerHeads(layer)));
            }

            @Override
            public NDArray mlpMask(int layer) {
                return m.create(indicator(plan.layer(layer).keptChannels(), c.layerIntermediate(layer)));
            }

            @Override
            public NDArray hiddenMask() {
                return plan.channelWise() ? m.create(indicator(plan.keptHidden(), c.hiddenSize())) : null;
            }
        };
    }

    /**
     * The full weights with the o_proj columns of removed heads and the down_proj columns of removed MLP channels
     * set to zero: what reaches the residual stream is then exactly what the pruned model computes.
     */
    private static Map<String, double[]> zeroRemovedOutputs(LlamaConfig c, Map<String, double[]> weights,
                                                            PrunePlan plan) {
        Map<String, double[]> zeroed = new HashMap<>(weights);
        int hd = c.headDim();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            double[] keptHeads = indicator(plan.layer(l).keptHeads(), c.layerHeads(l));
            double[] o = zeroed.get(TensorNames.layer(l, TensorNames.O)).clone();
            int oColumns = c.layerHeads(l) * hd;
            for (int row = 0; row < c.hiddenSize(); row++) {
                for (int col = 0; col < oColumns; col++) {
                    o[row * oColumns + col] *= keptHeads[col / hd];
                }
            }
            zeroed.put(TensorNames.layer(l, TensorNames.O), o);
            double[] keptChannels = indicator(plan.layer(l).keptChannels(), c.layerIntermediate(l));
            double[] down = zeroed.get(TensorNames.layer(l, TensorNames.DOWN)).clone();
            int f = c.layerIntermediate(l);
            for (int row = 0; row < c.hiddenSize(); row++) {
                for (int col = 0; col < f; col++) {
                    down[row * f + col] *= keptChannels[col];
                }
            }
            zeroed.put(TensorNames.layer(l, TensorNames.DOWN), down);
        }
        return zeroed;
    }

    private static double[] indicator(int[] kept, int n) {
        double[] mask = new double[n];
        for (int i : kept) {
            mask[i] = 1;
        }
        return mask;
    }

    private static double[] logits(Path modelDir, int[][] ids) {
        try (LlamaModel model = ModelFiles.load(modelDir, DataType.FLOAT64, Device.cpu())) {
            return logits(model, ids, m -> ForwardHooks.NONE);
        }
    }

    private static double[] logits(LlamaModel model, int[][] ids, Function<NDManager, ForwardHooks> hooks) {
        try (NDManager step = NDManager.newBaseManager(Device.cpu())) {
            return Djl.toDoubles(model.logits(step, new TokenBatch(ids, null, null), hooks.apply(step)));
        }
    }

    private static double maxAbsDifference(double[] a, double[] b) {
        assertEquals(a.length, b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
