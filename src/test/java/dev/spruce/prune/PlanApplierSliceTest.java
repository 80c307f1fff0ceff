package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.scope.LayerRange;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The pure parts of applying: slicing stored bytes, and which rows and columns each tensor keeps. */
class PlanApplierSliceTest {
    /** A 3 x 4 tensor of 2-byte elements whose element (r, c) is the bytes {r, c}. */
    private static final byte[] GRID = {0, 0, 0, 1, 0, 2, 0, 3, 1, 0, 1, 1, 1, 2, 1, 3, 2, 0, 2, 1, 2, 2, 2, 3};
    private static final long[] GRID_SHAPE = {3, 4};

    @Test
    void keepsRowsAndColumnsInAscendingOrder() {
        assertArrayEquals(new byte[] {0, 1, 0, 3, 2, 1, 2, 3},
                PlanApplier.slice(GRID, 2, GRID_SHAPE, new int[] {0, 2}, new int[] {1, 3}));
        assertArrayEquals(new byte[] {1, 0, 1, 1, 1, 2, 1, 3},
                PlanApplier.slice(GRID, 2, GRID_SHAPE, new int[] {1}, null));
        // Columns 0 and 1 are one contiguous run, column 3 another.
        assertArrayEquals(new byte[] {0, 0, 0, 1, 0, 3, 1, 0, 1, 1, 1, 3, 2, 0, 2, 1, 2, 3},
                PlanApplier.slice(GRID, 2, GRID_SHAPE, null, new int[] {0, 1, 3}));
        assertArrayEquals(GRID, PlanApplier.slice(GRID, 2, GRID_SHAPE, null, null));
        assertArrayEquals(new byte[0], PlanApplier.slice(GRID, 2, GRID_SHAPE, new int[0], null));
    }

    @Test
    void keepsEntriesOfAVector() {
        byte[] vector = {10, 11, 12, 13, 14};
        assertArrayEquals(new byte[] {10, 13, 14}, PlanApplier.slice(vector, 1, new long[] {5}, new int[] {0, 3, 4},
                null));
    }

    @Test
    void rejectsIndicesThatAreNotAscendingOrOutOfRange() {
        for (int[] bad : new int[][] {{2, 1}, {1, 1}, {4}, {-1, 0}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> PlanApplier.slice(GRID, 2, GRID_SHAPE, null, bad));
            assertTrue(e.getMessage().contains("kept column indices must be ascending and within [0, 4)"),
                    e.getMessage());
        }
        assertThrows(IllegalArgumentException.class,
                () -> PlanApplier.slice(GRID, 2, new long[] {3, 5}, null, null));
        assertThrows(IllegalArgumentException.class,
                () -> PlanApplier.slice(GRID, 2, new long[] {12}, null, new int[] {0}));
        assertThrows(IllegalArgumentException.class,
                () -> PlanApplier.slice(GRID, 2, new long[] {1, 3, 4}, null, null));
    }

    @Test
    void gqaLayersKeepTheChannelsOfTheirKvGroupsAndQueryHeads() {
        // head_dim 4, 2 kv groups of 2 query heads; r = 0.5 on layers 1..2 removes 1 kv group and 12 MLP channels.
        LlamaConfig c = TinyModels.config(3, 4, 2);
        double[] ascending = IntStream.range(0, 24).asDoubleStream().toArray();
        double[] descending = IntStream.range(0, 24).mapToDouble(j -> 24 - j).toArray();
        ImportanceScores scores = new ImportanceScores("hand", new double[][] {{1, 1}, {0.9, 0.1}, {0.1, 0.9}},
                new double[][] {ascending, ascending, descending}, null);
        PrunePlan plan = Planner.plan(c, scores,
                PlanSettings.builder().ratio(0.5).layers(new LayerRange(1, 3)).build());

        int[] first8 = range(0, 8);
        int[] last8 = range(8, 16);
        assertEquals(new KeptIndices(first8, null), PlanApplier.keptIndices(plan, TensorNames.layer(1, TensorNames.Q)));
        assertEquals(new KeptIndices(range(0, 4), null),
                PlanApplier.keptIndices(plan, TensorNames.layer(1, TensorNames.K)));
        assertEquals(new KeptIndices(null, first8), PlanApplier.keptIndices(plan, TensorNames.layer(1, TensorNames.O)));
        assertEquals(new KeptIndices(last8, null), PlanApplier.keptIndices(plan, TensorNames.layer(2, TensorNames.Q)));
        assertEquals(new KeptIndices(range(4, 8), null),
                PlanApplier.keptIndices(plan, TensorNames.layer(2, TensorNames.V)));
        assertEquals(new KeptIndices(null, last8), PlanApplier.keptIndices(plan, TensorNames.layer(2, TensorNames.O)));
        assertEquals(new KeptIndices(range(12, 24), null),
                PlanApplier.keptIndices(plan, TensorNames.layer(1, TensorNames.GATE)));
        assertEquals(new KeptIndices(range(12, 24), null),
                PlanApplier.keptIndices(plan, TensorNames.layer(1, TensorNames.UP)));
        assertEquals(new KeptIndices(null, range(12, 24)),
                PlanApplier.keptIndices(plan, TensorNames.layer(1, TensorNames.DOWN)));
        assertEquals(new KeptIndices(null, range(0, 12)),
                PlanApplier.keptIndices(plan, TensorNames.layer(2, TensorNames.DOWN)));
        for (String untouched : new String[] {TensorNames.EMBED, TensorNames.LM_HEAD, TensorNames.FINAL_NORM,
            TensorNames.layer(0, TensorNames.Q), TensorNames.layer(0, TensorNames.DOWN),
            TensorNames.layer(1, TensorNames.INPUT_NORM), TensorNames.layer(2, TensorNames.POST_NORM)}) {
            assertTrue(PlanApplier.keptIndices(plan, untouched).keepsAll(), untouched);
        }
    }

    @Test
    void channelWiseKeepsHiddenColumnsOfInputsAndRowsOfOutputs() {
        // r = 0.25 of 16 hidden channels: the 4 lowest-scored, 1, 5, 9 and 13, go.
        LlamaConfig c = TinyModels.config(2, 4, 2);
        double[] hidden = IntStream.range(0, 16).mapToDouble(i -> i % 4 == 1 ? -i : i).toArray();
        PrunePlan plan = Planner.plan(c, new ImportanceScores("hand", null, null, hidden),
                PlanSettings.builder().ratio(0.25).channelWise(true).layers(LayerRange.all(2)).build());
        int[] kept = {0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15};
        KeptIndices columns = new KeptIndices(null, kept);
        KeptIndices rows = new KeptIndices(kept, null);
        assertEquals(columns, PlanApplier.keptIndices(plan, TensorNames.EMBED));
        assertEquals(columns, PlanApplier.keptIndices(plan, TensorNames.LM_HEAD));
        assertEquals(rows, PlanApplier.keptIndices(plan, TensorNames.FINAL_NORM));
        for (String suffix : new String[] {TensorNames.Q, TensorNames.K, TensorNames.V, TensorNames.GATE,
            TensorNames.UP}) {
            assertEquals(columns, PlanApplier.keptIndices(plan, TensorNames.layer(1, suffix)), suffix);
        }
        for (String suffix : new String[] {TensorNames.O, TensorNames.DOWN, TensorNames.INPUT_NORM,
            TensorNames.POST_NORM}) {
            assertEquals(rows, PlanApplier.keptIndices(plan, TensorNames.layer(0, suffix)), suffix);
        }
    }

    private static int[] range(int from, int to) {
        return IntStream.range(from, to).toArray();
    }
}
