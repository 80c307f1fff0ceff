package dev.spruce.prune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.io.InvalidModelException;
import dev.spruce.io.JsonErrors;
import dev.spruce.io.JsonLayout;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import dev.spruce.scope.LayerRange;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code plan.json}: criterion, settings and sizes first, then one entry per layer, then the folding when there is
 * one ({@code hidden_norm} and the optional {@code scales} of mask values), then the source model's configuration
 * (so the plan alone says which model it fits). A plan of explicit keep decisions has no settings. Reading
 * re-derives the query heads and the parameter counts from the kept indices and rejects a file whose numbers
 * disagree.
 */
final class PrunePlanJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private PrunePlanJson() {}

    static String write(PrunePlan plan) {
        ObjectNode o = JSON.createObjectNode();
        o.put("criterion", plan.criterion());
        if (plan.settings() != null) {
            o.set("settings", settings(plan.settings()));
        }
        o.put("params_before", plan.paramsBefore());
        o.put("params_after", plan.paramsAfter());
        o.put("hidden_size_before", plan.sourceConfig().hiddenSize());
        o.put("hidden_size_after", plan.prunedConfig().hiddenSize());
        if (plan.channelWise()) {
            ints(o.putArray("hidden_kept"), plan.keptHidden());
        }
        ArrayNode layers = o.putArray("layers");
        for (LayerPlan l : plan.layers()) {
            ObjectNode n = layers.addObject();
            n.put("layer", l.layer());
            n.put("heads_kept", l.headsKept());
            n.put("kv_groups_kept", l.kvGroupsKept());
            n.put("intermediate_kept", l.intermediateKept());
            n.put("params_before", l.paramsBefore());
            n.put("params_after", l.paramsAfter());
            ints(n.putArray("kept_kv_groups"), l.keptKvGroups());
            ints(n.putArray("kept_heads"), l.keptHeads());
            ints(n.putArray("kept_channels"), l.keptChannels());
        }
        if (plan.folding() != null) {
            folding(o, plan.folding());
        }
        try {
            o.set("source_config", JSON.readTree(plan.sourceConfig().toJson()));
        } catch (IOException e) {
            throw new IllegalStateException("cannot embed the source configuration", e);
        }
        return JsonLayout.format(o);
    }

    private static ObjectNode settings(PlanSettings s) {
        ObjectNode n = JSON.createObjectNode();
        n.put("mode", s.mode().label());
        n.put("ratio", s.ratio());
        n.put("attention_layers", s.attentionLayers().toString());
        n.put("mlp_layers", s.mlpLayers().toString());
        ints(n.putArray("protected_layers"), s.protectedLayers().stream().mapToInt(Integer::intValue).toArray());
        n.put("iterative_steps", s.iterativeSteps());
        n.put("channel_wise", s.channelWise());
        n.put("uniform", s.uniform());
        n.put("channel_multiple", s.channelMultiple());
        n.put("kv_group_multiple", s.kvGroupMultiple());
        if (s.targetParams() != null) {
            n.put("target_params", s.targetParams());
        }
        if (s.targetFraction() != null) {
            n.put("target_fraction", s.targetFraction());
        }
        return n;
    }

    private static void folding(ObjectNode o, Folding f) {
        o.put("hidden_norm", f.hiddenNorm().label());
        if (!f.hasValues()) {
            return;
        }
        ObjectNode scales = o.putObject("scales");
        if (f.hidden() != null) {
            doubles(scales.putArray("hidden"), f.hidden());
        }
        perLayer(scales, "heads", f.heads());
        perLayer(scales, "channels", f.channels());
    }

    private static void perLayer(ObjectNode scales, String name, double[][] values) {
        if (values == null) {
            return;
        }
        ArrayNode a = scales.putArray(name);
        for (double[] row : values) {
            if (row == null) {
                a.addNull();
            } else {
                doubles(a.addArray(), row);
            }
        }
    }

    private static void doubles(ArrayNode a, double[] values) {
        for (double v : values) {
            a.add(v);
        }
    }

    private static void ints(ArrayNode a, int[] values) {
        for (int v : values) {
            a.add(v);
        }
    }

    // ---------------------------------------------------------------- reading

    static PrunePlan read(String json, String where) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new InvalidPlanException(where + ": not valid JSON: " + JsonErrors.oneLine(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidPlanException(where + ": expected a JSON object");
        }
        LlamaConfig source;
        try {
            source = LlamaConfig.parse(field(root, "", "source_config", where).toString(), where + ": source_config");
        } catch (InvalidModelException e) {
            throw new InvalidPlanException(e.getMessage(), e);
        }
        PlanSettings settings = null;
        if (root.hasNonNull("settings")) {
            try {
                settings = settings(root.get("settings"), where);
            } catch (InvalidPlanException e) {
                throw e.getMessage().startsWith(where) ? e
                        : new InvalidPlanException(where + ": settings: " + e.getMessage(), e);
            }
        }
        // explicit keep decisions (no settings) may remove a layer's whole attention or MLP
        boolean mayEmpty = settings == null;
        JsonNode layersNode = field(root, "", "layers", where);
        if (!layersNode.isArray() || layersNode.size() != source.numHiddenLayers()) {
            throw new InvalidPlanException(where + ": field layers must be an array with one entry per layer, "
                    + "expected " + source.numHiddenLayers() + " (num_hidden_layers of source_config)");
        }
        int layerCount = source.numHiddenLayers();
        int[][] keptKv = new int[layerCount][];
        int[][] keptChannels = new int[layerCount][];
        for (int l = 0; l < layerCount; l++) {
            JsonNode n = layersNode.get(l);
            String at = "layers[" + l + "].";
            if (integer(n, at, "layer", where) != l) {
                throw new InvalidPlanException(where + ": field " + at + "layer must be " + l);
            }
            int[] kv = indices(n, at, "kept_kv_groups", source.layerKvHeads(l), mayEmpty, where);
            int[] heads = indices(n, at, "kept_heads", source.layerHeads(l), mayEmpty, where);
            int[] channels = indices(n, at, "kept_channels", source.layerIntermediate(l), mayEmpty, where);
            if (!Arrays.equals(heads, LayerPlan.headsOf(kv, source.groupSize(l)))) {
                throw new InvalidPlanException(where + ": field " + at + "kept_heads does not match "
                        + at + "kept_kv_groups (kv group g carries heads g*" + source.groupSize(l) + " .. g*"
                        + source.groupSize(l) + "+" + (source.groupSize(l) - 1) + ")");
            }
            keptKv[l] = kv;
            keptChannels[l] = channels;
        }
        int[] keptHidden = null;
        if (root.has("hidden_kept")) {
            keptHidden = indices(root, "", "hidden_kept", source.hiddenSize(), false, where);
        }
        String criterion = field(root, "", "criterion", where).asText();
        PrunePlan plan = PrunePlan.assemble(criterion, settings, source, keptKv, keptChannels, keptHidden);
        for (int l = 0; l < layerCount; l++) {
            LayerPlan p = plan.layer(l);
            String at = "layers[" + l + "].";
            agree(where, at + "params_before", longValue(layersNode.get(l), at, "params_before", where),
                    p.paramsBefore());
            agree(where, at + "params_after", longValue(layersNode.get(l), at, "params_after", where),
                    p.paramsAfter());
        }
        agree(where, "params_before", longValue(root, "", "params_before", where), source.parameterCount());
        agree(where, "params_after", longValue(root, "", "params_after", where), plan.paramsAfter());
        return plan.withFolding(folding(root, source, where));
    }

    /** The folding of a plan file, or null when it has neither {@code hidden_norm} nor {@code scales}. */
    private static Folding folding(JsonNode root, LlamaConfig source, String where) {
        if (!root.hasNonNull("hidden_norm") && !root.hasNonNull("scales")) {
            return null;
        }
        HiddenNorm norm;
        try {
            norm = root.hasNonNull("hidden_norm") ? HiddenNorm.parse(root.get("hidden_norm").asText())
                    : HiddenNorm.KEPT_MASS;
        } catch (InvalidPlanException e) {
            throw new InvalidPlanException(where + ": field " + e.getMessage(), e);
        }
        JsonNode scales = root.get("scales");
        if (scales != null && !scales.isNull() && !scales.isObject()) {
            throw new InvalidPlanException(where + ": field scales must be an object of hidden, heads and channels");
        }
        boolean has = scales != null && scales.isObject();
        Folding f = new Folding(norm, has ? doubleRow(scales.get("hidden"), "scales.hidden", where) : null,
                has ? doubleRows(scales.get("heads"), "scales.heads", where) : null,
                has ? doubleRows(scales.get("channels"), "scales.channels", where) : null);
        f.requireFits(source, where + ": ");
        return f;
    }

    private static double[][] doubleRows(JsonNode a, String path, String where) {
        if (a == null || a.isNull()) {
            return null;
        }
        if (!a.isArray()) {
            throw new InvalidPlanException(where + ": field " + path + " must be an array with one entry per layer");
        }
        double[][] rows = new double[a.size()][];
        for (int l = 0; l < rows.length; l++) {
            rows[l] = doubleRow(a.get(l), path + "[" + l + "]", where);
        }
        return rows;
    }

    private static double[] doubleRow(JsonNode a, String path, String where) {
        if (a == null || a.isNull()) {
            return null;
        }
        if (!a.isArray()) {
            throw new InvalidPlanException(where + ": field " + path + " must be an array of numbers");
        }
        double[] row = new double[a.size()];
        for (int i = 0; i < row.length; i++) {
            if (!a.get(i).isNumber()) {
                throw new InvalidPlanException(where + ": field " + path + "[" + i + "] = " + a.get(i)
                        + " is not a number");
            }
            row[i] = a.get(i).asDouble();
        }
        return row;
    }

    private static PlanSettings settings(JsonNode n, String where) {
        String at = "settings.";
        PlanSettings.Builder b = PlanSettings.builder()
                .mode(PruneMode.parse(field(n, at, "mode", where).asText()))
                .ratio(field(n, at, "ratio", where).asDouble())
                .attentionLayers(LayerRange.parse(field(n, at, "attention_layers", where).asText()))
                .mlpLayers(LayerRange.parse(field(n, at, "mlp_layers", where).asText()))
                .iterativeSteps(integer(n, at, "iterative_steps", where))
                .channelWise(field(n, at, "channel_wise", where).asBoolean())
                .uniform(field(n, at, "uniform", where).asBoolean())
                .channelMultiple(integer(n, at, "channel_multiple", where))
                .kvGroupMultiple(integer(n, at, "kv_group_multiple", where));
        List<Integer> protectedLayers = new ArrayList<>();
        for (JsonNode v : field(n, at, "protected_layers", where)) {
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new InvalidPlanException(where + ": field " + at + "protected_layers must hold layer "
                        + "numbers, got " + v);
            }
            protectedLayers.add(v.asInt());
        }
        b.protectedLayers(protectedLayers);
        if (n.hasNonNull("target_params")) {
            b.targetParams(longValue(n, at, "target_params", where));
        }
        if (n.hasNonNull("target_fraction")) {
            b.targetFraction(field(n, at, "target_fraction", where).asDouble());
        }
        return b.build();
    }

    /** A required field; {@code at} is the path of {@code n} in the file ("" at the top, "layers[3]." in a layer). */
    private static JsonNode field(JsonNode n, String at, String name, String where) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            throw new InvalidPlanException(where + ": missing field " + at + name);
        }
        return v;
    }

    private static int integer(JsonNode n, String at, String name, String where) {
        JsonNode v = field(n, at, name, where);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new InvalidPlanException(where + ": field " + at + name + " must be an integer, got " + v);
        }
        return v.asInt();
    }

    private static long longValue(JsonNode n, String at, String name, String where) {
        JsonNode v = field(n, at, name, where);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new InvalidPlanException(where + ": field " + at + name + " must be an integer, got " + v);
        }
        return v.asLong();
    }

    /** A strictly ascending index list within {@code [0, width)}, not empty unless the width is 0 or it may be. */
    private static int[] indices(JsonNode n, String at, String name, int width, boolean mayBeEmpty, String where) {
        JsonNode a = field(n, at, name, where);
        if (!a.isArray()) {
            throw new InvalidPlanException(where + ": field " + at + name + " must be an array of indices");
        }
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = a.get(i);
            if (!v.isIntegralNumber() || v.asLong() < 0 || v.asLong() >= width
                    || (i > 0 && v.asInt() <= out[i - 1])) {
                throw new InvalidPlanException(where + ": field " + at + name + "[" + i + "] = " + v
                        + ": indices must be integers, strictly ascending, within [0, " + width + ")");
            }
            out[i] = v.asInt();
        }
        if (out.length == 0 && width > 0 && !mayBeEmpty) {
            throw new InvalidPlanException(where + ": field " + at + name + " keeps nothing; a plan never "
                    + "empties a layer");
        }
        return out;
    }

    private static void agree(String where, String path, long stored, long derived) {
        if (stored != derived) {
            throw new InvalidPlanException(where + ": field " + path + " is " + stored + " but the kept indices "
                    + "give " + derived);
        }
    }
}
