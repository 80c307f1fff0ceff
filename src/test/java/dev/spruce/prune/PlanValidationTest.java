package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import dev.spruce.scope.LayerRange;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlanValidationTest {
    private static final double[] HEADS = {1, 2, 3, 4, 5, 6, 7, 8};
    private static final double[] CHANNELS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    /** Scores for every layer of a 4-layer tiny model. */
    private static ImportanceScores full() {
        return new ImportanceScores("hand", new double[][] {HEADS, HEADS, HEADS, HEADS},
                new double[][] {CHANNELS, CHANNELS, CHANNELS, CHANNELS}, null);
    }

    private static String message(Runnable r) {
        return assertThrows(InvalidPlanException.class, r::run).getMessage();
    }

    @Test
    void ratioMustBeInTheHalfOpenUnitInterval() {
        assertEquals("pruning ratio must be in [0, 1), got -0.1",
                message(() -> PlanSettings.builder().ratio(-0.1).build()));
        assertEquals("pruning ratio must be in [0, 1), got 1.0",
                message(() -> PlanSettings.builder().ratio(1.0).build()));
    }

    @Test
    void layerRangesMustLieInsideTheModel() {
        PlanSettings past = PlanSettings.builder().ratio(0.25).layers(new LayerRange(4, 40)).build();
        assertEquals("attention layer range 4:40 is outside the model: num_hidden_layers = 32, so the range must "
                + "satisfy 0 <= start <= end <= 32 (end exclusive)", message(() -> Planner.counts(Shapes.llama7b(),
                past)));
        PlanSettings mlpPast = PlanSettings.builder().ratio(0.25).mlpLayers(new LayerRange(3, 33)).build();
        assertTrue(message(() -> Planner.counts(Shapes.llama7b(), mlpPast))
                .startsWith("MLP layer range 3:33 is outside the model: num_hidden_layers = 32"));
        assertEquals("layer range 30:4: start 30 is after end 4 (ranges are start:end with end exclusive)",
                message(() -> LayerRange.parse("30:4")));
        assertEquals("layer range '4-30' must be START:END, for example 4:30", message(() -> LayerRange.parse("4-30")));
        PlanSettings badProtect = PlanSettings.builder().ratio(0.25).protectedLayers(List.of(32)).build();
        assertEquals("protected layer 32 does not exist: num_hidden_layers = 32",
                message(() -> Planner.counts(Shapes.llama7b(), badProtect)));
    }

    @Test
    void budgetLargerThanTheModelIsRejected() {
        LlamaConfig c = Shapes.tiny(4, 8, 8);
        assertEquals(91_200L, c.parameterCount());
        PlanSettings s = PlanSettings.builder().mode(PruneMode.BUDGET).targetParams(100_000L)
                .layers(new LayerRange(0, 4)).build();
        assertEquals("target_params 100000 is larger than the model, which has 91200 parameters",
                message(() -> Planner.plan(c, full(), s)));
    }

    @Test
    void budgetBelowWhatProtectedLayersKeepIsRejected() {
        // Layers 0..2 protected; layer 3 can drop to 1 kv group (2048 parameters) and 1 channel (192).
        // Never pruned: 91200 - (8 * 2048 + 16 * 192) = 71744; smallest model 71744 + 2240 = 73984.
        LlamaConfig c = Shapes.tiny(4, 8, 8);
        PlanSettings s = PlanSettings.builder().mode(PruneMode.BUDGET).targetParams(50_000L)
                .layers(new LayerRange(0, 4)).protectedLayers(List.of(0, 1, 2)).build();
        assertEquals("target_params 50000 is below the smallest model these settings allow, 73984 parameters: "
                + "the parts never pruned (embeddings, norms, layers outside the ranges and 3 protected layer(s)) "
                + "keep 71744 parameters, and the minimum kept widths of the pruned layers (at least 1 kv group(s) "
                + "and 1 MLP channel(s) per layer) keep 2240 more", message(() -> Planner.plan(c, full(), s)));
        PrunePlan atFloor = Planner.plan(c, full(), s.toBuilder().targetParams(73_984L).build());
        assertEquals(73_984L, atFloor.paramsAfter());
    }

    @Test
    void scoresMustCoverEveryPrunedLayerWithTheRightLength() {
        LlamaConfig c = Shapes.tiny(4, 8, 8);
        PlanSettings s = PlanSettings.builder().ratio(0.25).layers(new LayerRange(1, 3)).build();
        ImportanceScores missing = new ImportanceScores("taylor", new double[][] {null, HEADS, HEADS, null},
                new double[][] {null, CHANNELS, null, null}, null);
        assertEquals("importance scores (criterion taylor) have no MLP scores for layer 2, which is in the MLP "
                + "layer range 1:3", message(() -> Planner.plan(c, missing, s)));
        ImportanceScores shortRow = new ImportanceScores("taylor", new double[][] {null, {1, 2, 3, 4, 5, 6, 7}},
                new double[][] {null, CHANNELS, CHANNELS}, null);
        assertEquals("importance scores (criterion taylor): attention[1] has 7 scores, expected 8 (the layer's kv "
                + "groups)", message(() -> Planner.plan(c, shortRow, s)));
        double[] withNaN = CHANNELS.clone();
        withNaN[3] = Double.NaN;
        ImportanceScores nan = new ImportanceScores("taylor", new double[][] {null, HEADS, HEADS},
                new double[][] {null, CHANNELS, withNaN}, null);
        assertEquals("importance scores (criterion taylor): mlp[2][3] is NaN; scores must be finite",
                message(() -> Planner.plan(c, nan, s)));
    }

    @Test
    void settingsThatContradictEachOtherAreRejected() {
        assertEquals("mode budget needs exactly one of target_params and target_fraction",
                message(() -> PlanSettings.builder().mode(PruneMode.BUDGET).build()));
        assertEquals("target_params and target_fraction are used by mode budget only, mode is local",
                message(() -> PlanSettings.builder().ratio(0.2).targetParams(10L).build()));
        assertTrue(message(() -> PlanSettings.builder().ratio(0.2).mode(PruneMode.GLOBAL).channelWise(true).build())
                .startsWith("channel-wise pruning removes hidden channels by ratio and needs mode local"));
        PlanSettings budget = PlanSettings.builder().mode(PruneMode.BUDGET).targetFraction(0.5).build();
        assertEquals("mode budget chooses its counts from the importance scores; counting from the configuration "
                + "alone works for mode local only", message(() -> Planner.counts(Shapes.llama7b(), budget)));
    }
}
