package dev.spruce.compresso;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.io.JsonLayout;
import dev.spruce.model.LlamaConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The deterministic masks of trained logits, and what they decide: per layer the kept kv groups and MLP channels,
 * the kept hidden dimensions, and the survivors' mask values. Survivors keep their fractional value where folding
 * it into the weights is exact (heads and channels always; hidden dimensions unless the embeddings are tied, since
 * a tied LM head would be scaled too) and when {@link CompressoSettings#foldSurvivors()} asks for it; otherwise the
 * value is 1, and the masked model this describes is the one with binary masks there.
 */
public final class MaskDecisions {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final MaskLayout layout;
    private final Map<String, double[]> logits;
    private final Map<String, double[]> values = new LinkedHashMap<>();
    private final boolean hiddenFolded;

    public MaskDecisions(MaskLayout layout, Map<String, double[]> parameters) {
        this.layout = layout;
        this.logits = new LinkedHashMap<>();
        boolean fold = layout.settings().foldSurvivors();
        this.hiddenFolded = fold && !layout.config().tieWordEmbeddings();
        for (String name : layout.names()) {
            double[] a = parameters.get(name);
            if (a == null) {
                throw new IllegalArgumentException("mask logits '" + name + "' are missing");
            }
            logits.put(name, a.clone());
            values.put(name, valuesOf(layout, name, a));
        }
    }

    /** The deterministic values of one vector: fractional survivors where they fold exactly and are asked for. */
    static double[] valuesOf(MaskLayout layout, String name, double[] logits) {
        double[] z = layout.settings().hardConcrete().deterministic(logits);
        boolean fold = layout.settings().foldSurvivors();
        boolean keepFraction = name.equals(MaskLayout.HIDDEN) ? fold && !layout.config().tieWordEmbeddings() : fold;
        if (!keepFraction) {
            for (int i = 0; i < z.length; i++) {
                z[i] = z[i] > 0 ? 1 : 0;
            }
        }
        return z;
    }

    public MaskLayout layout() {
        return layout;
    }

    /** True when the hidden survivors keep fractional values (folded into embeddings, o and down rows). */
    public boolean hiddenFolded() {
        return hiddenFolded;
    }

    /** The mask values of a vector (0 for removed units), or null when the layout has no such vector. */
    public double[] values(String mask) {
        double[] v = values.get(mask);
        return v == null ? null : v.clone();
    }

    /** Every mask vector's values, by name. */
    public Map<String, double[]> all() {
        Map<String, double[]> out = new LinkedHashMap<>();
        values.forEach((k, v) -> out.put(k, v.clone()));
        return out;
    }

    /** Ascending indices of the units of {@code size} a vector keeps (all when there is no vector). */
    public static int[] kept(double[] values, int size) {
        if (values == null) {
            int[] all = new int[size];
            for (int i = 0; i < size; i++) {
                all[i] = i;
            }
            return all;
        }
        return java.util.stream.IntStream.range(0, values.length).filter(i -> values[i] > 0).toArray();
    }

    public int[] keptKvGroups(int layer) {
        return kept(values.get(MaskLayout.heads(layer)), layout.config().layerKvHeads(layer));
    }

    public int[] keptChannels(int layer) {
        return kept(values.get(MaskLayout.ffn(layer)), layout.config().layerIntermediate(layer));
    }

    public int[] keptHidden() {
        return kept(values.get(MaskLayout.HIDDEN), layout.config().hiddenSize());
    }

    /** masks.json without a trajectory. */
    public String toJson(double expectedParams, long fullParams) {
        return toJson(expectedParams, fullParams, null);
    }

    /**
     * masks.json: the logits, keep probabilities and deterministic values of every vector, the kept counts, and
     * (when given) the expected size and target of every training step.
     */
    public String toJson(double expectedParams, long fullParams, dev.spruce.train.TrainingMetrics metrics) {
        HardConcrete hc = layout.settings().hardConcrete();
        LlamaConfig c = layout.config();
        ObjectNode root = JSON.createObjectNode();
        root.put("temperature", hc.beta());
        root.put("expected_params", expectedParams);
        root.put("full_params", fullParams);
        root.put("hidden_survivors", hiddenFolded ? "folded" : "one");
        root.put("kept_hidden", keptHidden().length);
        ArrayNode layers = root.putArray("layers");
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            ObjectNode n = layers.addObject();
            n.put("layer", l);
            n.put("kept_kv_groups", keptKvGroups(l).length);
            n.put("kv_groups", c.layerKvHeads(l));
            n.put("kept_channels", keptChannels(l).length);
            n.put("channels", c.layerIntermediate(l));
        }
        if (metrics != null && metrics.extraColumns().containsAll(LagrangianTerm.COLUMNS)) {
            ObjectNode t = root.putObject("trajectory");
            ArrayNode steps = t.putArray("step");
            metrics.rows().forEach(r -> steps.add(r.step()));
            for (String column : List.of("expected_params", "expected_sparsity", "target_sparsity")) {
                ArrayNode values = t.putArray(column);
                for (double v : metrics.column(column)) {
                    values.add(v);
                }
            }
        }
        ObjectNode masks = root.putObject("masks");
        logits.forEach((name, a) -> {
            ObjectNode m = masks.putObject(name);
            ArrayNode la = m.putArray("log_alpha");
            ArrayNode pa = m.putArray("keep_probability");
            ArrayNode za = m.putArray("value");
            double[] z = values.get(name);
            for (int i = 0; i < a.length; i++) {
                la.add(a[i]);
                pa.add(hc.keepProbability(a[i]));
                za.add(z[i]);
            }
        });
        return JsonLayout.format(root);
    }
}
