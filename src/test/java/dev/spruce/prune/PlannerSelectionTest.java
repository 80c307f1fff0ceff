package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.LayerRange;
import org.junit.jupiter.api.Test;

class PlannerSelectionTest {
    private static final double[] FLAT8 = {5, 5, 5, 5, 5, 5, 5, 5};
    private static final double[] FLAT16 = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};

    @Test
    void localRemovesTheLowestScoredUnitsAndKeepsAscendingOrder() {
        // 8 heads of 8 channels, r = 0.25 on layers 1..2: 64 - int(48.0) = 16 channels -> 2 heads; MLP 16 -> 12.
        LlamaConfig c = Shapes.tiny(4, 8, 8);
        double[][] attention = {null, {0.5, 0.1, 0.9, 0.1, 0.7, 0.3, 0.2, 0.8}, {3, 3, 3, 3, 3, 3, 3, 3}, null};
        double[][] mlp = {null, {5, 3, 8, 1, 9, 2, 7, 4, 6, 0.5, 10, 11, 12, 13, 14, 15},
            {-1, 0, -2, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, -3}, null};
        PrunePlan plan = Planner.plan(c, new ImportanceScores("hand", attention, mlp, null),
                PlanSettings.builder().ratio(0.25).layers(new LayerRange(1, 3)).build());

        assertArrayEquals(new int[] {0, 2, 4, 5, 6, 7}, plan.layer(1).keptKvGroups());
        assertArrayEquals(new int[] {0, 2, 4, 5, 6, 7}, plan.layer(1).keptHeads());
        assertArrayEquals(new int[] {0, 2, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15}, plan.layer(1).keptChannels());
        // Ties fall to the lower index first.
        assertArrayEquals(new int[] {2, 3, 4, 5, 6, 7}, plan.layer(2).keptKvGroups());
        assertArrayEquals(new int[] {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, plan.layer(2).keptChannels());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, plan.layer(0).keptHeads());
        assertEquals(16, plan.layer(3).intermediateKept());

        assertEquals("hand", plan.criterion());
        assertEquals(6, plan.prunedConfig().layerHeads(1));
        assertEquals(12, plan.prunedConfig().layerIntermediate(2));
        // Each pruned layer loses 2 heads * 8 * 64 * 4 and 4 channels * 64 * 3.
        assertEquals(c.parameterCount() - 2 * (2 * 8 * 64 * 4 + 4 * 64 * 3), plan.paramsAfter());
        assertEquals(c.layerParameterCount(1) - (2 * 8 * 64 * 4 + 4 * 64 * 3), plan.layer(1).paramsAfter());
        assertArrayEquals(UnitOrder.all(64), plan.keptHidden());
    }

    @Test
    void gqaKvGroupsCarryTheirQueryHeads() {
        // 8 query heads over 4 kv groups (n_rep 2); r = 0.5: 32 - int(16.0) = 16 channels -> 2 kv groups.
        LlamaConfig c = Shapes.tiny(2, 8, 4);
        double[][] attention = {{0.4, 0.1, 0.3, 0.2}, {1, 2, 3, 4}};
        double[][] mlp = {FLAT16, FLAT16};
        PrunePlan plan = Planner.plan(c, new ImportanceScores("hand", attention, mlp, null),
                PlanSettings.builder().ratio(0.5).layers(new LayerRange(0, 2)).build());
        assertArrayEquals(new int[] {0, 2}, plan.layer(0).keptKvGroups());
        assertArrayEquals(new int[] {0, 1, 4, 5}, plan.layer(0).keptHeads());
        assertArrayEquals(new int[] {2, 3}, plan.layer(1).keptKvGroups());
        assertArrayEquals(new int[] {4, 5, 6, 7}, plan.layer(1).keptHeads());
        assertEquals(2, plan.prunedConfig().layerKvHeads(0));
        assertEquals(4, plan.prunedConfig().layerHeads(0));
        // A kv group holds 2 query heads (q rows, o columns) plus a k and a v head: 6 * 8 * 64 parameters.
        assertEquals(c.layerParameterCount(0) - 2 * 6 * 8 * 64 - 8 * 3 * 64, plan.layer(0).paramsAfter());
    }

    @Test
    void globalModeUsesOneThresholdAcrossLayers() {
        // Layers 1..2, 8 heads + 16 channels each: U = 48, r = 0.25 -> n = 48 - int(36.0) = 12.
        // The 12 smallest: 3 heads of layer 1, 5 channels of layer 1, 4 channels of layer 2; threshold 0.9.
        // Head 7 of layer 2 ties the threshold and goes too (score <= threshold).
        LlamaConfig c = Shapes.tiny(4, 8, 8);
        double[][] attention = {null, {5, 0.01, 5, 0.02, 5, 0.03, 5, 5}, {5, 5, 5, 5, 5, 5, 5, 0.9}, null};
        double[][] mlp = {null, {0.1, 5, 0.2, 5, 0.3, 5, 0.4, 5, 0.5, 5, 5, 5, 5, 5, 5, 5},
            {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 0.6, 0.7, 0.8, 0.9}, null};
        PrunePlan plan = Planner.plan(c, new ImportanceScores("hand", attention, mlp, null),
                PlanSettings.builder().ratio(0.25).layers(new LayerRange(1, 3)).mode(PruneMode.GLOBAL).build());
        assertArrayEquals(new int[] {0, 2, 4, 6, 7}, plan.layer(1).keptKvGroups());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6}, plan.layer(2).keptKvGroups());
        assertArrayEquals(new int[] {1, 3, 5, 7, 9, 10, 11, 12, 13, 14, 15}, plan.layer(1).keptChannels());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, plan.layer(2).keptChannels());
    }

    @Test
    void globalModeSkipsALayerItWouldEmpty() {
        // Every head of layer 2 scores below the threshold: the reference skips that group, the layer keeps all.
        LlamaConfig c = Shapes.tiny(4, 8, 8);
        double[][] attention = {null, FLAT8, {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, null};
        double[][] mlp = {null, {0.2, 0.3, 0.4, 0.5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, FLAT16, null};
        PrunePlan plan = Planner.plan(c, new ImportanceScores("hand", attention, mlp, null),
                PlanSettings.builder().ratio(0.25).layers(new LayerRange(1, 3)).mode(PruneMode.GLOBAL).build());
        assertEquals(8, plan.layer(2).kvGroupsKept());
        assertArrayEquals(new int[] {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, plan.layer(1).keptChannels());
        assertEquals(8, plan.layer(1).kvGroupsKept());
    }

    @Test
    void channelWiseRemovesTheLowestHiddenChannels() {
        // hidden 64, r = 0.2: 64 - int(51.2) = 13 channels removed; channels 50..62 score lowest.
        LlamaConfig c = Shapes.tiny(2, 8, 8);
        double[] hidden = new double[64];
        for (int i = 0; i < 64; i++) {
            hidden[i] = i >= 50 && i < 63 ? 0.5 : 1 + i;
        }
        PrunePlan plan = Planner.plan(c, new ImportanceScores("hand", null, null, hidden),
                PlanSettings.builder().ratio(0.2).layers(new LayerRange(0, 2)).channelWise(true).build());
        int[] expected = new int[51];
        for (int i = 0; i < 50; i++) {
            expected[i] = i;
        }
        expected[50] = 63;
        assertArrayEquals(expected, plan.keptHidden());
        assertEquals(51, plan.prunedConfig().hiddenSize());
        assertEquals(8, plan.layer(1).headsKept());
    }

    @Test
    void iterativeStepPrunesTheCurrentModelTowardsTheOriginalWidths() {
        // Step 2 of 2 at r = 0.5 on a model already at 6 of 8 heads and 12 of 16 channels: the targets are
        // int(64 * 0.5) = 32 channels (4 heads) and int(16 * 0.5) = 8 channels, so 2 heads and 4 channels go.
        LlamaConfig original = Shapes.tiny(1, 8, 8);
        LlamaConfig current = original.toBuilder().layerWidths(new int[] {6}, new int[] {6}, new int[] {12}).build();
        double[][] attention = {{6, 5, 4, 3, 2, 1}};
        double[][] mlp = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
        PlanSettings s = PlanSettings.builder().ratio(0.5).iterativeSteps(2).layers(new LayerRange(0, 1)).build();
        PrunePlan plan = Planner.planStep(original, current, new ImportanceScores("hand", attention, mlp, null), s, 2);
        assertArrayEquals(new int[] {0, 1, 2, 3}, plan.layer(0).keptKvGroups());
        assertArrayEquals(new int[] {4, 5, 6, 7, 8, 9, 10, 11}, plan.layer(0).keptChannels());
    }
}
