package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.model.LlamaConfig;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.HalfPrecision;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.scope.InvalidPlanException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.stream.IntStream;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The folded model's stored values against a plain-Java derivation (slice, decode, multiply in double, round once
 * to the stored dtype), and the folding's place in {@code plan.json}.
 */
class FoldingFilesTest {
    private static final LlamaConfig GQA = TinyModels.config(2, 4, 2); // n_rep 2, hidden 16, head_dim 4, MLP 24
    private static final int[] HIDDEN = {0, 2, 3, 5, 6, 7, 9, 10, 11, 14, 15};

    @TempDir
    java.nio.file.Path tmp;

    private static FoldedMasksEqualPrunedTest.Masks masks() {
        return new FoldedMasksEqualPrunedTest.Masks(GQA, 71).kvGroups(0, 1).kvGroups(1, 0, 1)
                .channels(0, 1, 4, 6, 7, 12, 13, 22).channels(1).hidden(HIDDEN);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32", "F16", "BF16"})
    void foldedValuesAreTheSourceValuesTimesTheirFactorsRoundedOnce(DType dtype) {
        FoldedMasksEqualPrunedTest.Masks m = masks();
        Path src = ApplyFixtures.writeModel(tmp.resolve("source"), GQA, TinyModels.randomWeights(GQA, 71), dtype, 3000);
        Path out = ApplyFixtures.hadoop(tmp.resolve("pruned"));
        PlanApplier.apply(src, m.plan(), out, ApplyOptions.defaults());

        double norm = Math.sqrt(16.0 / HIDDEN.length);
        int copied = 0;
        int scaled = 0;
        try (SafetensorsModel source = SafetensorsModel.open(src);
             SafetensorsModel pruned = SafetensorsModel.open(out)) {
            assertEquals(TensorNames.expectedShapes(m.plan().prunedConfig()).size(), pruned.names().size());
            for (String name : pruned.names()) {
                int l = TensorNames.layerOf(name);
                String kind = l < 0 ? name : TensorNames.suffixOf(name);
                int[] heads = l < 0 ? null : LayerPlan.headsOf(m.kv[l] == null ? all(2) : m.kv[l], 2);
                int[] queryChannels = l < 0 ? null : IntStream.range(0, heads.length * 4)
                        .map(i -> heads[i / 4] * 4 + i % 4).toArray();
                int[] kvChannels = l < 0 ? null : IntStream.range(0, (m.kv[l] == null ? 2 : m.kv[l].length) * 4)
                        .map(i -> (m.kv[l] == null ? i / 4 : m.kv[l][i / 4]) * 4 + i % 4).toArray();
                int[] mlp = l < 0 || m.channels[l] == null ? all(24) : m.channels[l];
                int[] rows;
                int[] columns;
                double[] rowFactor;
                double[] columnFactor;
                switch (kind) {
                    case TensorNames.EMBED, TensorNames.LM_HEAD -> {
                        rows = all(TinyModels.VOCAB);
                        columns = HIDDEN;
                        rowFactor = ones(rows.length);
                        columnFactor = kind.equals(TensorNames.EMBED) ? at(m.hiddenValues, HIDDEN)
                                : ones(HIDDEN.length);
                    }
                    case TensorNames.FINAL_NORM, TensorNames.INPUT_NORM, TensorNames.POST_NORM -> {
                        rows = HIDDEN;
                        columns = new int[] {0};
                        rowFactor = IntStream.range(0, HIDDEN.length).mapToDouble(i -> norm).toArray();
                        columnFactor = ones(1);
                    }
                    case TensorNames.Q, TensorNames.K, TensorNames.V, TensorNames.GATE, TensorNames.UP -> {
                        rows = kind.equals(TensorNames.Q) ? queryChannels
                                : kind.equals(TensorNames.K) || kind.equals(TensorNames.V) ? kvChannels : mlp;
                        columns = HIDDEN;
                        rowFactor = ones(rows.length);
                        columnFactor = ones(columns.length);
                    }
                    case TensorNames.O -> {
                        rows = HIDDEN;
                        columns = queryChannels;
                        rowFactor = at(m.hiddenValues, HIDDEN);
                        double[] headValues = m.headValues[l];
                        columnFactor = IntStream.of(queryChannels).mapToDouble(ch -> headValues[ch / 4]).toArray();
                    }
                    case TensorNames.DOWN -> {
                        rows = HIDDEN;
                        columns = mlp;
                        rowFactor = at(m.hiddenValues, HIDDEN);
                        columnFactor = at(m.channelValues[l], mlp);
                    }
                    default -> throw new AssertionError(name);
                }
                long[] shape = source.info(name).shape();
                int sourceColumns = shape.length == 2 ? (int) shape[1] : 1;
                ByteBuffer in = ByteBuffer.wrap(source.readRaw(name)).order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer expected = ByteBuffer.allocate(rows.length * columns.length * dtype.byteSize())
                        .order(ByteOrder.LITTLE_ENDIAN);
                boolean touched = false;
                for (int r = 0; r < rows.length; r++) {
                    for (int c = 0; c < columns.length; c++) {
                        int at = (rows[r] * sourceColumns + columns[c]) * dtype.byteSize();
                        double factors = rowFactor[r] * columnFactor[c];
                        touched |= factors != 1;
                        put(dtype, expected, get(dtype, in, at) * rowFactor[r] * columnFactor[c]);
                    }
                }
                assertArrayEquals(expected.array(), pruned.readRaw(name), name);
                if (touched) {
                    scaled++;
                } else {
                    copied++;
                }
            }
        }
        // scaled: embed_tokens, the 5 RMSNorm weights, both o_proj and layer 0's down_proj (layer 1's MLP is gone);
        // everything else is a plain slice of the stored bytes.
        assertEquals(1 + 5 + 2 + 1, scaled);
        assertEquals(pruned(m) - scaled, copied);
    }

    private static int pruned(FoldedMasksEqualPrunedTest.Masks m) {
        return TensorNames.expectedShapes(m.plan().prunedConfig()).size();
    }

    @Test
    void planJsonRoundTripsTheFoldingAndLeavesScoredPlansAsTheyWere() throws Exception {
        PrunePlan plan = masks().plan();
        org.apache.hadoop.fs.Path file = ApplyFixtures.hadoop(tmp.resolve("plan.json"));
        plan.write(file);
        String text = Files.readString(tmp.resolve("plan.json"));
        assertTrue(text.startsWith("{\n  \"criterion\": \"compresso\",\n  \"params_before\": "), text);
        assertTrue(text.contains("\n  \"hidden_norm\": \"full_width\",\n  \"scales\": {\n    \"hidden\": ["), text);
        assertTrue(text.contains("\"kept_channels\": []\n"), "layer 1's MLP is removed: " + text);
        assertFalse(text.contains("\"settings\""), text);

        PrunePlan back = PrunePlan.read(file);
        assertNull(back.settings());
        assertTrue(back.explicit());
        assertEquals(plan.folding(), back.folding());
        assertEquals(plan.layers(), back.layers());
        assertArrayEquals(plan.keptHidden(), back.keptHidden());
        assertEquals(plan.paramsAfter(), back.paramsAfter());
        assertEquals(plan.prunedConfig().toJson(), back.prunedConfig().toJson());
        assertEquals(text, back.toJson());
        assertArrayEquals(masks().hiddenValues, back.folding().hidden());

        // a norm-only folding writes hidden_norm and no scales; applying it from the file alone gives the same model
        PrunePlan normOnly = PrunePlan.fromJson(plan.withFolding(plan.folding().survivorsAtOne()).toJson(), "p.json");
        assertEquals(Folding.fullWidthNorm(), normOnly.folding());
        assertFalse(normOnly.toJson().contains("\"scales\""));

        // the identity folding is no folding, and a scored plan's file has no folding fields at all
        PrunePlan scored = Planner.plan(GQA, ApplyFixtures.randomScores(GQA, 3),
                PlanSettings.builder().ratio(0.5).layers(new dev.spruce.scope.LayerRange(0, 2)).build());
        assertEquals(scored.toJson(), scored.withFolding(new Folding(HiddenNorm.KEPT_MASS, null, null, null)).toJson());
        assertFalse(scored.toJson().contains("hidden_norm"));
        assertFalse(scored.toJson().contains("scales"));
    }

    @Test
    void badFoldingsAreRefusedNamingTheField() {
        PrunePlan plan = masks().plan();
        String json = plan.toJson();
        String shortHidden = json.replaceFirst("\"hidden\": \\[[^\\]]*\\]", "\"hidden\": [1.0,2.0]");
        assertEquals("p.json: scales.hidden has 2 values, expected 16 (hidden_size)",
                assertThrows(InvalidPlanException.class, () -> PrunePlan.fromJson(shortHidden, "p.json")).getMessage());
        String badNorm = json.replace("\"hidden_norm\": \"full_width\"", "\"hidden_norm\": \"everything\"");
        assertEquals("p.json: field hidden_norm 'everything' is not one of kept_mass, full_width",
                assertThrows(InvalidPlanException.class, () -> PrunePlan.fromJson(badNorm, "p.json")).getMessage());
        double[][] heads = new double[2][];
        heads[1] = new double[] {1, Double.NaN, 1, 1};
        assertEquals("scales.heads[1][1] is NaN; mask values must be finite", assertThrows(InvalidPlanException.class,
                () -> plan.withFolding(new Folding(HiddenNorm.FULL_WIDTH, null, heads, null))).getMessage());
        assertEquals("layer 0 kept kv groups must be strictly ascending within [0, 2), got [1, 1]",
                assertThrows(InvalidPlanException.class, () -> PrunePlan.ofKept("compresso", GQA,
                        new int[][] {{1, 1}, null}, null, null)).getMessage());
        assertEquals("kept hidden channels keep nothing; at least one hidden channel must stay",
                assertThrows(InvalidPlanException.class, () -> PrunePlan.ofKept("compresso", GQA, null, null,
                        new int[0])).getMessage());
    }

    @Test
    void explicitDecisionsCountParametersAsThePlannerDoes() {
        // the Planner's plan and the same kept units given explicitly are the same plan
        PrunePlan scored = Planner.plan(GQA, ApplyFixtures.randomScores(GQA, 9),
                PlanSettings.builder().ratio(0.5).layers(new dev.spruce.scope.LayerRange(0, 2)).build());
        int[][] kv = {scored.layer(0).keptKvGroups(), scored.layer(1).keptKvGroups()};
        int[][] channels = {scored.layer(0).keptChannels(), scored.layer(1).keptChannels()};
        PrunePlan explicit = PrunePlan.ofKept("compresso", GQA, kv, channels, null);
        assertEquals(scored.layers(), explicit.layers());
        assertEquals(scored.prunedConfig().toJson(), explicit.prunedConfig().toJson());
        // hand count: one kv group of two 4-wide heads costs (2*2 + 2) * 4 * 16 = 384; one MLP channel 3 * 16 = 48
        assertEquals(GQA.parameterCount() - 2 * 384 - 2 * 12 * 48, explicit.paramsAfter());
        // all hidden channels kept is no hidden pruning
        assertFalse(PrunePlan.ofKept("compresso", GQA, null, null, all(16)).channelWise());
    }

    private static int[] all(int n) {
        return IntStream.range(0, n).toArray();
    }

    private static double[] ones(int n) {
        return IntStream.range(0, n).mapToDouble(i -> 1).toArray();
    }

    private static double[] at(double[] values, int[] kept) {
        return IntStream.of(kept).mapToDouble(i -> values[i]).toArray();
    }

    private static double get(DType t, ByteBuffer b, int at) {
        return switch (t) {
            case F64 -> b.getDouble(at);
            case F32 -> b.getFloat(at);
            case F16 -> HalfPrecision.f16ToFloat(b.getShort(at));
            case BF16 -> HalfPrecision.bf16ToFloat(b.getShort(at));
            default -> throw new AssertionError(t);
        };
    }

    private static void put(DType t, ByteBuffer b, double v) {
        switch (t) {
            case F64 -> b.putDouble(v);
            case F32 -> b.putFloat((float) v);
            case F16 -> b.putShort(HalfPrecision.doubleToF16(v));
            case BF16 -> b.putShort(HalfPrecision.doubleToBf16(v));
            default -> throw new AssertionError(t);
        }
    }
}
