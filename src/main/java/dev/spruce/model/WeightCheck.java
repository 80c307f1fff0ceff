package dev.spruce.model;

import dev.spruce.io.InvalidModelException;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.model.safetensors.TensorInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Whether a model's weights agree with its config, from the safetensors headers and a scan of the values:
 * every tensor the config calls for is present, with that shape and a floating-point dtype; no LLaMA weight is
 * present that the config has no place for (a layer past num_hidden_layers, the MLP of a layer whose width is
 * 0); and no value is NaN or infinite. Each failure is one line naming the file, the tensor, what it holds and
 * the config field that asked for something else.
 *
 * <p>Run on the driver before any Spark work (prune, recover, evaluate) and wherever a model is loaded for
 * compute, so that a wrong model fails with a message instead of a shape error deep in a forward pass or a
 * report that reads NaN.
 */
public final class WeightCheck {
    /** How much of the values to scan for NaN and infinity. */
    public enum Scan {
        /** Headers only. */
        NONE,
        /**
         * {@value #SAMPLE_RUNS} runs of {@value #SAMPLE_RUN} consecutive elements per tensor (start, middle, end):
         * a few small reads per tensor, cheap on any file system, and enough to catch a tensor whose bytes are
         * not what its dtype says (such bytes decode to NaN or infinity every few dozen elements).
         */
        SAMPLE,
        /** Every element ({@code spruce inspect}). */
        FULL
    }

    static final int SAMPLE_RUNS = 3;
    static final int SAMPLE_RUN = 1024;

    private static final Set<String> ATTENTION = Set.of(TensorNames.Q, TensorNames.K, TensorNames.V, TensorNames.O);
    private static final Set<String> MLP = Set.of(TensorNames.GATE, TensorNames.UP, TensorNames.DOWN);
    private static final Set<String> NORMS = Set.of(TensorNames.INPUT_NORM, TensorNames.POST_NORM);

    /** What a passed check saw: the tensors checked, their dtypes, and the tensors the config does not use. */
    public record Summary(int tensors, Map<String, Integer> dtypes, List<String> unused) {
        public Summary {
            dtypes = Map.copyOf(dtypes);
            unused = List.copyOf(unused);
        }
    }

    private WeightCheck() {}

    /** Checks {@code weights} against {@code config}; throws {@link InvalidModelException} on the first problem. */
    public static Summary check(LlamaConfig config, SafetensorsModel weights, Scan scan) {
        Map<String, long[]> expected = TensorNames.expectedShapes(config);
        Map<String, Integer> dtypes = new TreeMap<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String name = e.getKey();
            if (!weights.contains(name)) {
                throw new InvalidModelException(weights.dir() + ": tensor '" + name + "' is missing from the weights; "
                        + "config.json calls for shape " + Arrays.toString(e.getValue()) + " ("
                        + String.join(", ", dimensionFields(config, name)) + ")");
            }
            TensorInfo info = weights.info(name);
            checkShape(config, weights, info, e.getValue());
            if (!info.dtype().isFloatingPoint()) {
                throw new InvalidModelException(weights.fileOf(name) + ": tensor '" + name + "' has dtype "
                        + info.dtype() + ", expected a floating-point dtype (F32, F16, BF16 or F64)");
            }
            dtypes.merge(info.dtype().safetensorsName(), 1, Integer::sum);
        }
        List<String> unused = new ArrayList<>();
        for (String name : weights.names()) {
            if (!expected.containsKey(name)) {
                refuseUnplacedWeight(config, weights, name);
                unused.add(name);
            }
        }
        if (scan != Scan.NONE) {
            for (String name : expected.keySet()) {
                checkFinite(weights, weights.info(name), scan);
            }
        }
        return new Summary(expected.size(), dtypes, unused);
    }

    private static void checkShape(LlamaConfig config, SafetensorsModel weights, TensorInfo info, long[] expected) {
        long[] actual = info.shape();
        if (Arrays.equals(actual, expected)) {
            return;
        }
        String[] fields = dimensionFields(config, info.name());
        List<String> why = new ArrayList<>();
        for (int d = 0; d < expected.length; d++) {
            if (actual.length != expected.length || actual[d] != expected[d]) {
                why.add(fields[d]);
            }
        }
        throw new InvalidModelException(weights.fileOf(info.name()) + ": tensor '" + info.name() + "' has shape "
                + Arrays.toString(actual) + ", config.json calls for " + Arrays.toString(expected) + " ("
                + String.join(", ", why) + ")");
    }

    /**
     * A tensor named like a LLaMA weight that the config has no place for means config and weights disagree
     * (a truncated num_hidden_layers, a width of 0 over weights that exist); other names (rotary buffers, a tied
     * model's redundant LM head) are left unused.
     */
    private static void refuseUnplacedWeight(LlamaConfig config, SafetensorsModel weights, String name) {
        int l = layerIndex(name);
        if (l < 0) {
            return;
        }
        String suffix = TensorNames.suffixOf(name);
        String because;
        if (l >= config.numHiddenLayers() && (ATTENTION.contains(suffix) || MLP.contains(suffix)
                || NORMS.contains(suffix))) {
            because = "num_hidden_layers = " + config.numHiddenLayers();
        } else if (ATTENTION.contains(suffix)) {
            because = heads(config, l);
        } else if (MLP.contains(suffix)) {
            because = intermediate(config, l);
        } else {
            return;
        }
        throw new InvalidModelException(weights.fileOf(name) + ": tensor '" + name + "' (shape "
                + Arrays.toString(weights.info(name).shape()) + ") is in the weights, but config.json " + because
                + " calls for no such tensor");
    }

    /** The layer of {@code model.layers.<l>.<suffix>}, or -1 for any other name (or a malformed index). */
    private static int layerIndex(String name) {
        if (!name.startsWith("model.layers.")) {
            return -1;
        }
        int start = "model.layers.".length();
        int end = name.indexOf('.', start);
        if (end <= start || end - start > 9 || !name.substring(start, end).chars().allMatch(Character::isDigit)) {
            return -1;
        }
        return Integer.parseInt(name.substring(start, end));
    }

    private static void checkFinite(SafetensorsModel weights, TensorInfo info, Scan scan) {
        long n = info.numel();
        long bad = -1;
        if (scan == Scan.FULL || n <= (long) SAMPLE_RUNS * SAMPLE_RUN) {
            bad = weights.firstNonFinite(info.name(), 0, n);
        } else {
            long[] starts = {0, n / 2 - SAMPLE_RUN / 2, n - SAMPLE_RUN};
            for (int i = 0; i < starts.length && bad < 0; i++) {
                bad = weights.firstNonFinite(info.name(), starts[i], SAMPLE_RUN);
            }
        }
        if (bad >= 0) {
            throw new InvalidModelException(weights.fileOf(info.name()) + ": tensor '" + info.name() + "' ("
                    + info.dtype() + " " + Arrays.toString(info.shape()) + ") has a NaN or infinite value at index "
                    + bad + coordinates(info.shape(), bad) + ", expected finite weights");
        }
    }

    /** " [row, column]" of a flat index in a matrix; empty for vectors. */
    private static String coordinates(long[] shape, long index) {
        if (shape.length != 2 || shape[1] == 0) {
            return "";
        }
        return " [" + index / shape[1] + ", " + index % shape[1] + "]";
    }

    /** Which config field gives each dimension of tensor {@code name}, e.g. {@code "intermediate_size = 24"}. */
    static String[] dimensionFields(LlamaConfig c, String name) {
        String hidden = "hidden_size = " + c.hiddenSize();
        int l = TensorNames.layerOf(name);
        if (l < 0) {
            return name.equals(TensorNames.FINAL_NORM) ? new String[] {hidden}
                    : new String[] {"vocab_size = " + c.vocabSize(), hidden};
        }
        String q = heads(c, l) + " x head_dim = " + c.headDim();
        String kv = kvHeads(c, l) + " x head_dim = " + c.headDim();
        return switch (TensorNames.suffixOf(name)) {
            case TensorNames.Q -> new String[] {q, hidden};
            case TensorNames.K, TensorNames.V -> new String[] {kv, hidden};
            case TensorNames.O -> new String[] {hidden, q};
            case TensorNames.GATE, TensorNames.UP -> new String[] {intermediate(c, l), hidden};
            case TensorNames.DOWN -> new String[] {hidden, intermediate(c, l)};
            default -> new String[] {hidden};
        };
    }

    // A per-layer width is named by its own field when it differs from the standard one, which then cannot be
    // what the shape came from.

    private static String heads(LlamaConfig c, int l) {
        return c.layerHeads(l) == c.numAttentionHeads() ? "num_attention_heads = " + c.layerHeads(l)
                : LlamaConfig.LAYER_HEADS_FIELD + "[" + l + "] = " + c.layerHeads(l);
    }

    private static String kvHeads(LlamaConfig c, int l) {
        return c.layerKvHeads(l) == c.numKeyValueHeads() ? "num_key_value_heads = " + c.layerKvHeads(l)
                : LlamaConfig.LAYER_KV_HEADS_FIELD + "[" + l + "] = " + c.layerKvHeads(l);
    }

    private static String intermediate(LlamaConfig c, int l) {
        return c.layerIntermediate(l) == c.intermediateSize() ? "intermediate_size = " + c.layerIntermediate(l)
                : LlamaConfig.LAYER_INTERMEDIATE_FIELD + "[" + l + "] = " + c.layerIntermediate(l);
    }
}
