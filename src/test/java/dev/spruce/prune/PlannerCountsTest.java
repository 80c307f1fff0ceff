package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.LayerRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PlannerCountsTest {

    /** The table in llm-pruner.md §1.4: ratio, heads removed, MLP channels removed, totals for 4..29 and 3..30. */
    @ParameterizedTest
    @CsvSource({
        "0.10,  3, 1101, 6223081472, 6183440384",
        "0.15,  4, 1652, 5992517632, 5935140864",
        "0.20,  6, 2202, 5707747328, 5628465152",
        "0.25,  8, 2752, 5422977024, 5321789440",
        "0.30,  9, 3303, 5192413184, 5073489920",
        "0.50, 16, 5504, 4107538432, 3905163264",
        "0.60, 19, 6605, 3592204288, 3350188032",
    })
    void llama7bCountsMatchTheReferenceTable(double ratio, int headsRemoved, int channelsRemoved, long total4to29,
                                             long total3to30) {
        LlamaConfig source = Shapes.llama7b();
        assertEquals(6_738_415_616L, source.parameterCount());
        checkRange(source, ratio, new LayerRange(4, 30), headsRemoved, channelsRemoved, total4to29);
        checkRange(source, ratio, new LayerRange(3, 31), headsRemoved, channelsRemoved, total3to30);
    }

    private static void checkRange(LlamaConfig source, double ratio, LayerRange range, int headsRemoved,
                                   int channelsRemoved, long total) {
        LlamaConfig pruned = Planner.counts(source, PlanSettings.builder().ratio(ratio).layers(range).build());
        assertEquals(total, pruned.parameterCount(), "ratio " + ratio + " on " + range);
        for (int l = 0; l < 32; l++) {
            boolean inRange = range.contains(l);
            assertEquals(inRange ? 32 - headsRemoved : 32, pruned.layerHeads(l), "heads of layer " + l);
            assertEquals(inRange ? 32 - headsRemoved : 32, pruned.layerKvHeads(l), "kv heads of layer " + l);
            assertEquals(inRange ? 11008 - channelsRemoved : 11008, pruned.layerIntermediate(l), "layer " + l);
        }
        assertEquals(4096, pruned.hiddenSize());
    }

    @Test
    void channelWiseRemovesTheReferenceCountOfHiddenChannels() {
        // hf_prune.py --channel_wise: n = 4096 - int(4096 * (1 - 0.2)) = 4096 - 3276 = 820 channels removed.
        LlamaConfig pruned = Planner.counts(Shapes.llama7b(),
                PlanSettings.builder().ratio(0.2).channelWise(true).build());
        assertEquals(3276, pruned.hiddenSize());
        assertEquals(32, pruned.layerHeads(10));
        assertEquals(11008, pruned.layerIntermediate(10));
        assertEquals(128, pruned.headDim());
        // vocab*h*2 + h + 32 * (2h + 4*h*4096 + 3*h*11008) with h = 3276: the "5.39B" of the statistics table.
        assertEquals(5_389_416_396L, pruned.parameterCount());
    }

    @Test
    void gqaCountsKvGroupsOnTheKeyProjectionWidth() {
        // Llama-3-8B shape: 8 kv heads of 4 query heads, r = 0.25: 1024 - int(1024*0.75) = 256 -> 2 kv groups.
        LlamaConfig llama3 = LlamaConfig.builder().hiddenSize(4096).intermediateSize(14336).numHiddenLayers(32)
                .numAttentionHeads(32).numKeyValueHeads(8).vocabSize(128256).build();
        LlamaConfig pruned = Planner.counts(llama3, PlanSettings.builder().ratio(0.25).build());
        assertEquals(6, pruned.layerKvHeads(4));
        assertEquals(24, pruned.layerHeads(4));
        assertEquals(10752, pruned.layerIntermediate(4));
        assertEquals(8, pruned.layerKvHeads(30));
        long perLayer = 2L * (2 * 4 + 2) * 128 * 4096 + 3584L * 3 * 4096;
        assertEquals(llama3.parameterCount() - 26 * perLayer, pruned.parameterCount());
    }

    @Test
    void iterativeScheduleIsLinearAndEndsAtTheOneShotCounts() {
        PlanSettings s = PlanSettings.builder().ratio(0.25).iterativeSteps(4).build();
        assertEquals(0.0625, s.ratioAtStep(1));
        assertEquals(0.125, s.ratioAtStep(2));
        assertEquals(0.25, s.ratioAtStep(4));
        assertEquals(5_422_977_024L, Planner.counts(Shapes.llama7b(), s).parameterCount());
    }

    @Test
    void multiplesRoundKeptWidthsDown() {
        // r = 0.1: 9907 channels kept, rounded down to 64 -> 9856; 29 heads kept, rounded down to 4 -> 28.
        LlamaConfig pruned = Planner.counts(Shapes.llama7b(),
                PlanSettings.builder().ratio(0.1).channelMultiple(64).kvGroupMultiple(4).build());
        assertEquals(9856, pruned.layerIntermediate(5));
        assertEquals(28, pruned.layerKvHeads(5));
        assertEquals(11008, pruned.layerIntermediate(3));
    }

    @Test
    void protectedLayersAndSmallRatiosKeepEverything() {
        LlamaConfig pruned = Planner.counts(Shapes.llama7b(),
                PlanSettings.builder().ratio(0.25).protectedLayers(java.util.List.of(10, 11)).build());
        assertEquals(32, pruned.layerHeads(10));
        assertEquals(11008, pruned.layerIntermediate(11));
        assertEquals(24, pruned.layerHeads(12));
        // r = 0.02: 4096 - int(4014.08) = 82 channels, less than one head: no head removed (the reference crashes).
        LlamaConfig small = Planner.counts(Shapes.llama7b(), PlanSettings.builder().ratio(0.02).build());
        assertEquals(32, small.layerHeads(5));
        assertEquals(11008 - 221, small.layerIntermediate(5));
    }
}
