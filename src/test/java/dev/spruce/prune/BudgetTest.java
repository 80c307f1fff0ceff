package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.LayerRange;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BudgetTest {
    /** 6 layers, hidden 64, 8 query heads over 4 kv groups of head_dim 8, MLP 64 wide. */
    private static final LlamaConfig GQA = LlamaConfig.builder().hiddenSize(64).intermediateSize(64)
            .numHiddenLayers(6).numAttentionHeads(8).numKeyValueHeads(4).headDim(8).vocabSize(100).build();
    /** (2 * n_rep + 2) * head_dim * hidden. */
    private static final long KV_GROUP_COST = 6 * 8 * 64;
    /** 3 * hidden. */
    private static final long CHANNEL_COST = 3 * 64;

    private static ImportanceScores randomScores(long seed) {
        Random rnd = new Random(seed);
        double[][] attention = new double[6][4];
        double[][] mlp = new double[6][64];
        for (int l = 0; l < 6; l++) {
            for (int g = 0; g < 4; g++) {
                attention[l][g] = rnd.nextDouble() * KV_GROUP_COST;
            }
            for (int j = 0; j < 64; j++) {
                mlp[l][j] = rnd.nextDouble() * CHANNEL_COST;
            }
        }
        return new ImportanceScores("random", attention, mlp, null);
    }

    private static PlanSettings.Builder budget(double fraction) {
        return PlanSettings.builder().mode(PruneMode.BUDGET).targetFraction(fraction).layers(new LayerRange(1, 5));
    }

    @Test
    void removesTheLowestScorePerParameterFirst() {
        // One layer, 2 heads (cost 4*2*8 = 64 each), 4 channels (cost 24 each). Scores per parameter:
        // heads 0.1, 0.015625; channels 0.01, 0.1, 0.2, 0.02. Removal order: channel 0, head 1, channel 3.
        LlamaConfig c = LlamaConfig.builder().hiddenSize(8).intermediateSize(4).numHiddenLayers(1)
                .numAttentionHeads(2).headDim(2).vocabSize(10).build();
        ImportanceScores scores = new ImportanceScores("hand", new double[][] {{6.4, 1.0}},
                new double[][] {{0.24, 2.4, 4.8, 0.48}}, null);
        long target = c.parameterCount() - 89;
        PrunePlan plan = Planner.plan(c, scores, PlanSettings.builder().mode(PruneMode.BUDGET).targetParams(target)
                .layers(new LayerRange(0, 1)).build());
        assertArrayEquals(new int[] {0}, plan.layer(0).keptHeads());
        assertArrayEquals(new int[] {1, 2}, plan.layer(0).keptChannels());
        assertEquals(c.parameterCount() - 24 - 64 - 24, plan.paramsAfter());
    }

    @Test
    void meetsTheTargetWithinOneBlock() {
        for (long seed = 1; seed <= 5; seed++) {
            ImportanceScores scores = randomScores(seed);
            PrunePlan plan = Planner.plan(GQA, scores, budget(0.7).build());
            long target = (long) Math.floor(0.7 * GQA.parameterCount());
            assertTrue(plan.paramsAfter() <= target, "seed " + seed);
            assertTrue(target - plan.paramsAfter() < KV_GROUP_COST, "seed " + seed + ": " + plan.paramsAfter());
            assertEquals(GQA.layerParameterCount(0), plan.layer(0).paramsAfter());
            assertEquals(GQA.layerParameterCount(5), plan.layer(5).paramsAfter());
            assertLowestRemoved(scores, plan);
        }
    }

    @Test
    void keptWidthsAreMultiples() {
        ImportanceScores scores = randomScores(7);
        PrunePlan plan = Planner.plan(GQA, scores, budget(0.8).kvGroupMultiple(2).channelMultiple(16).build());
        long target = (long) Math.floor(0.8 * GQA.parameterCount());
        assertTrue(plan.paramsAfter() <= target);
        assertTrue(target - plan.paramsAfter() < 2 * KV_GROUP_COST);
        boolean anyPruned = false;
        for (int l = 1; l < 5; l++) {
            LayerPlan p = plan.layer(l);
            assertEquals(0, p.kvGroupsKept() % 2, "layer " + l);
            assertEquals(0, p.intermediateKept() % 16, "layer " + l);
            anyPruned |= p.intermediateKept() < 64 || p.kvGroupsKept() < 4;
        }
        assertTrue(anyPruned);
        assertLowestRemoved(scores, plan);
    }

    @Test
    void uniformKeepsEqualWidthsInEveryPrunedLayer() {
        ImportanceScores scores = randomScores(11);
        PrunePlan plan = Planner.plan(GQA, scores, budget(0.65).uniform(true).build());
        long target = (long) Math.floor(0.65 * GQA.parameterCount());
        assertTrue(plan.paramsAfter() <= target);
        // A uniform block removes one unit from each of the 4 pruned layers.
        assertTrue(target - plan.paramsAfter() < 4 * KV_GROUP_COST);
        LayerPlan first = plan.layer(1);
        assertTrue(first.intermediateKept() < 64);
        for (int l = 2; l < 5; l++) {
            assertEquals(first.kvGroupsKept(), plan.layer(l).kvGroupsKept(), "layer " + l);
            assertEquals(first.intermediateKept(), plan.layer(l).intermediateKept(), "layer " + l);
        }
        assertLowestRemoved(scores, plan);
    }

    @Test
    void protectedLayersAreUntouched() {
        ImportanceScores scores = randomScores(3);
        PrunePlan plan = Planner.plan(GQA, scores, budget(0.75).protectedLayers(List.of(2)).build());
        assertArrayEquals(UnitOrder.all(4), plan.layer(2).keptKvGroups());
        assertArrayEquals(UnitOrder.all(64), plan.layer(2).keptChannels());
        assertEquals(GQA.layerParameterCount(2), plan.layer(2).paramsAfter());
        assertTrue(plan.paramsAfter() <= (long) Math.floor(0.75 * GQA.parameterCount()));
        assertTrue(plan.layer(3).intermediateKept() < 64);
    }

    /** Within a layer, no removed unit scores above a kept one. */
    private static void assertLowestRemoved(ImportanceScores scores, PrunePlan plan) {
        for (int l = 0; l < 6; l++) {
            checkLayer(scores.attention()[l], plan.layer(l).keptKvGroups(), "attention of layer " + l);
            checkLayer(scores.mlp()[l], plan.layer(l).keptChannels(), "MLP of layer " + l);
        }
    }

    private static void checkLayer(double[] scores, int[] kept, String what) {
        boolean[] isKept = new boolean[scores.length];
        double minKept = Double.POSITIVE_INFINITY;
        for (int k : kept) {
            isKept[k] = true;
            minKept = Math.min(minKept, scores[k]);
        }
        for (int i = 0; i < scores.length; i++) {
            if (!isKept[i]) {
                assertTrue(scores[i] <= minKept, what + ": removed unit " + i + " outscores a kept one");
            }
        }
    }
}
