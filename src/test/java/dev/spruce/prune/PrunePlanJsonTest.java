package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import dev.spruce.scope.LayerRange;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrunePlanJsonTest {
    @TempDir
    Path dir;

    private static PrunePlan gqaPlan() {
        LlamaConfig c = Shapes.tiny(3, 8, 4);
        double[][] attention = {null, {0.4, 0.1, 0.3, 0.2}, null};
        double[][] mlp = {null, {9, 8, 7, 6, 5, 4, 3, 2, 1, 10, 11, 12, 13, 14, 15, 16}, null};
        PlanSettings s = PlanSettings.builder().ratio(0.5).layers(new LayerRange(1, 2)).protectedLayers(List.of(0))
                .build();
        return Planner.plan(c, new ImportanceScores("taylor:param_first", attention, mlp, null), s);
    }

    @Test
    void planRoundTripsThroughAFile() throws Exception {
        PrunePlan plan = gqaPlan();
        org.apache.hadoop.fs.Path file = Fs.path(dir.resolve("plan.json").toString());
        plan.write(file);
        String text = Files.readString(dir.resolve("plan.json"));
        assertTrue(text.startsWith("{\n  \"criterion\": \"taylor:param_first\",\n  \"settings\": {\n"), text);
        assertTrue(text.contains("\"kept_kv_groups\": [0,2],\n"), text);
        assertTrue(text.contains("\"kept_heads\": [0,1,4,5],\n"), text);
        assertTrue(text.contains("\"kept_channels\": [0,9,10,11,12,13,14,15]\n"), text);
        assertTrue(text.contains("\"protected_layers\": [0],\n"), text);

        PrunePlan back = PrunePlan.read(file);
        assertEquals(plan.criterion(), back.criterion());
        assertEquals(plan.settings(), back.settings());
        assertEquals(plan.layers(), back.layers());
        assertEquals(plan.paramsBefore(), back.paramsBefore());
        assertEquals(plan.paramsAfter(), back.paramsAfter());
        assertEquals(plan.prunedConfig().toJson(), back.prunedConfig().toJson());
        assertEquals(plan.sourceConfig().toJson(), back.sourceConfig().toJson());
        assertEquals(text, back.toJson());
        assertEquals(2, back.prunedConfig().layerKvHeads(1));
        assertEquals(4, back.prunedConfig().layerHeads(1));
    }

    @Test
    void channelWisePlanRoundTripsItsHiddenChannels() {
        LlamaConfig c = Shapes.tiny(2, 8, 8);
        double[] hidden = new double[64];
        for (int i = 0; i < 64; i++) {
            hidden[i] = (i * 37) % 64;
        }
        PrunePlan plan = Planner.plan(c, new ImportanceScores("l2", null, null, hidden),
                PlanSettings.builder().ratio(0.5).layers(new LayerRange(0, 2)).channelWise(true).build());
        PrunePlan back = PrunePlan.fromJson(plan.toJson(), "plan.json");
        assertTrue(back.channelWise());
        assertArrayEquals(plan.keptHidden(), back.keptHidden());
        assertEquals(32, back.prunedConfig().hiddenSize());
        assertEquals(plan.paramsAfter(), back.paramsAfter());
    }

    @Test
    void inconsistentFilesAreRejected() {
        String json = gqaPlan().toJson();
        String badCount = json.replaceFirst("\"params_after\": \\d+", "\"params_after\": 123");
        assertTrue(assertThrows(InvalidPlanException.class, () -> PrunePlan.fromJson(badCount, "p.json"))
                .getMessage().startsWith("p.json: field params_after is 123 but the kept indices give "));
        String badHeads = json.replace("\"kept_heads\": [0,1,4,5]", "\"kept_heads\": [0,1,2,3]");
        assertEquals("p.json: field layers[1].kept_heads does not match layers[1].kept_kv_groups (kv group g "
                + "carries heads g*2 .. g*2+1)", assertThrows(InvalidPlanException.class,
                () -> PrunePlan.fromJson(badHeads, "p.json")).getMessage());
        String unsorted = json.replace("\"kept_kv_groups\": [0,2]", "\"kept_kv_groups\": [2,0]");
        assertEquals("p.json: field layers[1].kept_kv_groups[1] = 0: indices must be integers, strictly ascending, "
                + "within [0, 4)", assertThrows(InvalidPlanException.class,
                () -> PrunePlan.fromJson(unsorted, "p.json")).getMessage());
    }
}
