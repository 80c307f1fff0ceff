package dev.spruce.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.io.JsonErrors;
import java.io.IOException;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Locale;
import org.apache.hadoop.fs.Path;

/**
 * A LLaMA-family configuration as in Hugging Face {@code config.json}, plus spruce's optional per-layer
 * widths for pruned models. Immutable; {@link #toBuilder()} derives variants.
 *
 * <p>Per-layer widths are written as {@code spruce_num_attention_heads_per_layer},
 * {@code spruce_num_key_value_heads_per_layer} and {@code spruce_intermediate_size_per_layer}, and only
 * when the layers differ (or one block is gone from every layer): a uniform model is written with standard
 * fields (and an explicit {@code head_dim}), so a stock {@code LlamaForCausalLM} loads it.
 *
 * <p>Every size field is range-checked when the config is built or read, before any per-layer array is
 * allocated: widths, head counts, head_dim and vocab_size in 1..{@value #MAX_WIDTH}, num_hidden_layers in
 * 1..{@value #MAX_LAYERS}, max_position_embeddings in 1..{@value #MAX_POSITIONS}, per-layer widths in
 * 0..{@value #MAX_WIDTH}. A failure reads {@code <file>: field '<name>' = <value>, expected <range>}.
 */
public final class LlamaConfig implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public static final String LAYER_HEADS_FIELD = "spruce_num_attention_heads_per_layer";
    public static final String LAYER_KV_HEADS_FIELD = "spruce_num_key_value_heads_per_layer";
    public static final String LAYER_INTERMEDIATE_FIELD = "spruce_intermediate_size_per_layer";

    /** Largest hidden_size, intermediate_size, head count, head_dim and vocab_size accepted (and per-layer width). */
    public static final int MAX_WIDTH = 1_000_000;
    /** Largest num_hidden_layers accepted. */
    public static final int MAX_LAYERS = 10_000;
    /** Largest max_position_embeddings accepted. */
    public static final int MAX_POSITIONS = 10_000_000;

    /** Rope scaling as in HF {@code rope_scaling}: {@code linear} or {@code llama3}. */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) implements Serializable {}

    private final int hiddenSize;
    private final int intermediateSize;
    private final int numHiddenLayers;
    private final int numAttentionHeads;
    private final int numKeyValueHeads;
    private final int headDim;
    private final double rmsNormEps;
    private final double ropeTheta;
    private final RopeScaling ropeScaling;
    private final int maxPositionEmbeddings;
    private final int vocabSize;
    private final boolean tieWordEmbeddings;
    private final Integer bosTokenId;
    private final int[] eosTokenIds;
    private final Integer padTokenId;
    private final String torchDtype;
    private final int[] layerHeads;
    private final int[] layerKvHeads;
    private final int[] layerIntermediate;
    /** The source JSON, kept so unknown fields survive a read/write round trip. */
    private final String sourceJson;

    private LlamaConfig(Builder b) {
        hiddenSize = b.hiddenSize;
        intermediateSize = b.intermediateSize;
        numHiddenLayers = b.numHiddenLayers;
        numAttentionHeads = b.numAttentionHeads;
        numKeyValueHeads = b.numKeyValueHeads > 0 ? b.numKeyValueHeads : b.numAttentionHeads;
        headDim = b.headDim > 0 ? b.headDim : (b.numAttentionHeads > 0 ? b.hiddenSize / b.numAttentionHeads : 0);
        rmsNormEps = b.rmsNormEps;
        ropeTheta = b.ropeTheta;
        ropeScaling = b.ropeScaling;
        maxPositionEmbeddings = b.maxPositionEmbeddings;
        vocabSize = b.vocabSize;
        tieWordEmbeddings = b.tieWordEmbeddings;
        bosTokenId = b.bosTokenId;
        eosTokenIds = b.eosTokenIds == null ? new int[0] : b.eosTokenIds.clone();
        padTokenId = b.padTokenId;
        torchDtype = b.torchDtype;
        // Bounds before the per-layer arrays are allocated: num_hidden_layers = 10^9 must be an error, not an OOM.
        checkBounds("config", hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                headDim, vocabSize, maxPositionEmbeddings);
        layerHeads = fill(b.layerHeads, numAttentionHeads);
        layerKvHeads = fill(b.layerKvHeads, numKeyValueHeads);
        layerIntermediate = fill(b.layerIntermediate, intermediateSize);
        sourceJson = b.sourceJson;
        validate("config");
    }

    private int[] fill(int[] perLayer, int uniform) {
        if (perLayer == null) {
            int[] a = new int[numHiddenLayers];
            Arrays.fill(a, uniform);
            return a;
        }
        return perLayer.clone();
    }

    /**
     * The documented range of every size field (reference.conf, "Model limits"): far above any published
     * LLaMA-family model, low enough that no count or allocation derived from them overflows.
     */
    private static void checkBounds(String where, int hidden, int intermediate, int layers, int heads, int kvHeads,
                                    int headDim, int vocab, int positions) {
        inRange(where, "hidden_size", hidden, 1, MAX_WIDTH);
        inRange(where, "intermediate_size", intermediate, 1, MAX_WIDTH);
        inRange(where, "num_hidden_layers", layers, 1, MAX_LAYERS);
        inRange(where, "num_attention_heads", heads, 1, MAX_WIDTH);
        inRange(where, "num_key_value_heads", kvHeads, 1, MAX_WIDTH);
        inRange(where, "head_dim", headDim, 1, MAX_WIDTH);
        inRange(where, "vocab_size", vocab, 1, MAX_WIDTH);
        inRange(where, "max_position_embeddings", positions, 1, MAX_POSITIONS);
        if ((long) heads * headDim > MAX_WIDTH) {
            throw new InvalidModelException(where + ": field 'num_attention_heads' = " + heads + " with 'head_dim' = "
                    + headDim + ", expected num_attention_heads x head_dim <= " + MAX_WIDTH);
        }
    }

    private static void inRange(String where, String field, long v, long min, long max) {
        if (v < min || v > max) {
            throw new InvalidModelException(where + ": field '" + field + "' = " + v + ", expected " + range(min, max));
        }
    }

    private static String range(long min, long max) {
        return "an integer in " + min + ".." + max;
    }

    private void validate(String where) {
        if (rmsNormEps <= 0) {
            throw new InvalidModelException(where + ": field 'rms_norm_eps' = " + rmsNormEps + ", expected > 0");
        }
        if (ropeTheta <= 0) {
            throw new InvalidModelException(where + ": field 'rope_theta' = " + ropeTheta + ", expected > 0");
        }
        if (headDim % 2 != 0) {
            throw new InvalidModelException(where + ": field 'head_dim' = " + headDim + ", expected an even number "
                    + "(RoPE rotates pairs)");
        }
        checkLength(where, LAYER_HEADS_FIELD, layerHeads);
        checkLength(where, LAYER_KV_HEADS_FIELD, layerKvHeads);
        checkLength(where, LAYER_INTERMEDIATE_FIELD, layerIntermediate);
        for (int l = 0; l < numHiddenLayers; l++) {
            int h = layerHeads[l];
            int kv = layerKvHeads[l];
            // A per-layer width may be 0: pruning can remove a layer's whole attention or MLP block.
            inRange(where, LAYER_HEADS_FIELD + "[" + l + "]", h, 0, MAX_WIDTH);
            inRange(where, LAYER_KV_HEADS_FIELD + "[" + l + "]", kv, 0, MAX_WIDTH);
            inRange(where, LAYER_INTERMEDIATE_FIELD + "[" + l + "]", layerIntermediate[l], 0, MAX_WIDTH);
            if ((long) h * headDim > MAX_WIDTH) {
                throw new InvalidModelException(where + ": field '" + LAYER_HEADS_FIELD + "[" + l + "]' = " + h
                        + " with 'head_dim' = " + headDim + ", expected heads x head_dim <= " + MAX_WIDTH);
            }
            if ((h == 0) != (kv == 0)) {
                throw new InvalidModelException(where + ": layer " + l + " has " + h + " attention heads but "
                        + kv + " key/value heads; both must be zero or both positive");
            }
            if (kv > 0 && h % kv != 0) {
                throw new InvalidModelException(where + ": layer " + l + ": num_attention_heads " + h
                        + " is not a multiple of num_key_value_heads " + kv);
            }
        }
    }

    private void checkLength(String where, String field, int[] a) {
        if (a.length != numHiddenLayers) {
            throw new InvalidModelException(where + ": field '" + field + "' has " + a.length
                    + " entries, expected num_hidden_layers = " + numHiddenLayers);
        }
    }

    // ---------------------------------------------------------------- reading

    /** Reads {@code config.json} from a model directory or the file itself. */
    public static LlamaConfig read(Path dirOrFile) {
        Path file = dirOrFile.getName().endsWith(".json") ? dirOrFile : new Path(dirOrFile, "config.json");
        if (!Fs.exists(file)) {
            throw new InvalidModelException(file + ": config.json not found (a model directory in Hugging Face "
                    + "layout needs config.json, *.safetensors and tokenizer.json)");
        }
        return parse(Fs.readString(file), file.toString());
    }

    public static LlamaConfig parse(String json, String where) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (IOException e) {
            throw new InvalidModelException(where + ": not valid JSON: " + JsonErrors.oneLine(e), e);
        }
        if (n == null || !n.isObject()) {
            throw new InvalidModelException(where + ": expected a JSON object");
        }
        String modelType = n.path("model_type").asText("llama");
        if (!modelType.isEmpty() && !modelType.equals("llama") && !modelType.equals("mistral")) {
            throw new InvalidModelException(where + ": field model_type is '" + modelType
                    + "', spruce supports LLaMA-family models (model_type 'llama')");
        }
        Builder b = builder();
        // Each size is range-checked as it is read, so an absurd value fails here, before anything is allocated.
        b.hiddenSize = requiredInt(n, "hidden_size", 1, MAX_WIDTH, where);
        b.intermediateSize = requiredInt(n, "intermediate_size", 1, MAX_WIDTH, where);
        b.numHiddenLayers = requiredInt(n, "num_hidden_layers", 1, MAX_LAYERS, where);
        b.numAttentionHeads = requiredInt(n, "num_attention_heads", 1, MAX_WIDTH, where);
        b.numKeyValueHeads = optionalInt(n, "num_key_value_heads", b.numAttentionHeads, 1, MAX_WIDTH, where);
        b.headDim = optionalInt(n, "head_dim", 0, 1, MAX_WIDTH, where);
        b.rmsNormEps = optionalDouble(n, "rms_norm_eps", 1e-6, where);
        b.ropeTheta = optionalDouble(n, "rope_theta", 10000.0, where);
        b.maxPositionEmbeddings = optionalInt(n, "max_position_embeddings", 2048, 1, MAX_POSITIONS, where);
        b.vocabSize = requiredInt(n, "vocab_size", 1, MAX_WIDTH, where);
        b.tieWordEmbeddings = n.path("tie_word_embeddings").asBoolean(false);
        b.bosTokenId = n.hasNonNull("bos_token_id")
                ? optionalInt(n, "bos_token_id", 0, 0, Integer.MAX_VALUE, where) : null;
        b.padTokenId = n.hasNonNull("pad_token_id")
                ? optionalInt(n, "pad_token_id", 0, 0, Integer.MAX_VALUE, where) : null;
        JsonNode eos = n.get("eos_token_id");
        if (eos != null && eos.isArray()) {
            b.eosTokenIds = new int[eos.size()];
            for (int i = 0; i < eos.size(); i++) {
                b.eosTokenIds[i] = eos.get(i).asInt();
            }
        } else if (eos != null && eos.isIntegralNumber()) {
            b.eosTokenIds = new int[] {eos.asInt()};
        }
        b.torchDtype = n.hasNonNull("torch_dtype") ? n.get("torch_dtype").asText() : null;
        JsonNode rs = n.get("rope_scaling");
        if (rs != null && !rs.isNull()) {
            String type = rs.hasNonNull("rope_type") ? rs.get("rope_type").asText() : rs.path("type").asText("");
            double factor = rs.path("factor").asDouble(1.0);
            switch (type) {
                case "linear" -> b.ropeScaling = new RopeScaling("linear", factor, 0, 0, 0);
                case "llama3" -> b.ropeScaling = new RopeScaling("llama3", factor,
                        rs.path("low_freq_factor").asDouble(1.0), rs.path("high_freq_factor").asDouble(4.0),
                        rs.path("original_max_position_embeddings").asInt(8192));
                case "default", "" -> b.ropeScaling = null;
                default -> throw new InvalidModelException(where + ": field rope_scaling.rope_type '" + type
                        + "' is not supported (supported: linear, llama3)");
            }
        }
        b.layerHeads = optionalIntArray(n, LAYER_HEADS_FIELD, where);
        b.layerKvHeads = optionalIntArray(n, LAYER_KV_HEADS_FIELD, where);
        b.layerIntermediate = optionalIntArray(n, LAYER_INTERMEDIATE_FIELD, where);
        b.sourceJson = json;
        try {
            return new LlamaConfig(b);
        } catch (InvalidModelException e) {
            throw new InvalidModelException(e.getMessage().replaceFirst("^config", where), e);
        }
    }

    private static int requiredInt(JsonNode n, String field, int min, int max, String where) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            throw new InvalidModelException(where + ": missing required field '" + field + "', expected "
                    + range(min, max));
        }
        return asInt(v, field, min, max, where);
    }

    private static int optionalInt(JsonNode n, String field, int def, int min, int max, String where) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? def : asInt(v, field, min, max, where);
    }

    private static int asInt(JsonNode v, String field, int min, int max, String where) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw new InvalidModelException(where + ": field '" + field + "' = " + v + ", expected " + range(min, max));
        }
        return v.asInt();
    }

    private static double optionalDouble(JsonNode n, String field, double def, String where) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isNumber()) {
            throw new InvalidModelException(where + ": field '" + field + "' = " + v + ", expected a number");
        }
        return v.asDouble();
    }

    private static int[] optionalIntArray(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isArray() || v.size() > MAX_LAYERS) {
            throw new InvalidModelException(where + ": field '" + field + "' is " + (v.isArray() ? "an array of "
                    + v.size() + " entries" : v.getNodeType().name().toLowerCase(Locale.ROOT))
                    + ", expected an array of one integer in 0.." + MAX_WIDTH + " per layer");
        }
        int[] a = new int[v.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = asInt(v.get(i), field + "[" + i + "]", 0, MAX_WIDTH, where);
        }
        return a;
    }

    // ---------------------------------------------------------------- writing

    /** True when every layer has the same widths. */
    public boolean isUniform() {
        for (int l = 1; l < numHiddenLayers; l++) {
            if (layerHeads[l] != layerHeads[0] || layerKvHeads[l] != layerKvHeads[0]
                    || layerIntermediate[l] != layerIntermediate[0]) {
                return false;
            }
        }
        return true;
    }

    /** The config as HF {@code config.json} text; unknown fields of the source are kept. */
    public String toJson() {
        ObjectNode o;
        try {
            o = sourceJson == null ? JSON.createObjectNode() : (ObjectNode) JSON.readTree(sourceJson);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        o.remove(LAYER_HEADS_FIELD);
        o.remove(LAYER_KV_HEADS_FIELD);
        o.remove(LAYER_INTERMEDIATE_FIELD);
        if (!o.has("architectures")) {
            o.putArray("architectures").add("LlamaForCausalLM");
        }
        o.put("model_type", o.path("model_type").asText("llama"));
        o.put("hidden_size", hiddenSize);
        o.put("num_hidden_layers", numHiddenLayers);
        // Standard fields describe the model only when its layers agree and no block is gone from all of them:
        // a uniform width of 0 written as num_attention_heads or intermediate_size would not be read back.
        boolean uniform = isUniform() && layerHeads[0] > 0 && layerIntermediate[0] > 0;
        o.put("num_attention_heads", uniform ? layerHeads[0] : numAttentionHeads);
        o.put("num_key_value_heads", uniform ? layerKvHeads[0] : numKeyValueHeads);
        o.put("intermediate_size", uniform ? layerIntermediate[0] : intermediateSize);
        o.put("head_dim", headDim);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("rope_theta", ropeTheta);
        if (ropeScaling == null) {
            o.putNull("rope_scaling");
        } else {
            ObjectNode rs = o.putObject("rope_scaling");
            rs.put("rope_type", ropeScaling.type());
            rs.put("factor", ropeScaling.factor());
            if (ropeScaling.type().equals("llama3")) {
                rs.put("low_freq_factor", ropeScaling.lowFreqFactor());
                rs.put("high_freq_factor", ropeScaling.highFreqFactor());
                rs.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            }
        }
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("vocab_size", vocabSize);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("hidden_act", "silu");
        if (bosTokenId != null) {
            o.put("bos_token_id", bosTokenId);
        }
        if (eosTokenIds.length == 1) {
            o.put("eos_token_id", eosTokenIds[0]);
        } else if (eosTokenIds.length > 1) {
            ArrayNode a = o.putArray("eos_token_id");
            for (int e : eosTokenIds) {
                a.add(e);
            }
        }
        if (padTokenId != null) {
            o.put("pad_token_id", padTokenId);
        }
        if (torchDtype != null) {
            o.put("torch_dtype", torchDtype);
        }
        if (!uniform) {
            putArray(o, LAYER_HEADS_FIELD, layerHeads);
            putArray(o, LAYER_KV_HEADS_FIELD, layerKvHeads);
            putArray(o, LAYER_INTERMEDIATE_FIELD, layerIntermediate);
        }
        try {
            return JSON.writeValueAsString(o) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void putArray(ObjectNode o, String field, int[] values) {
        ArrayNode a = o.putArray(field);
        for (int v : values) {
            a.add(v);
        }
    }

    /** Writes {@code config.json} into a directory, atomically. */
    public void write(Path dir) {
        Fs.writeStringAtomically(new Path(dir, "config.json"), toJson());
    }

    // ---------------------------------------------------------------- derived sizes

    /** Parameters of decoder layer {@code l}: two norms, q/k/v/o and gate/up/down. */
    public long layerParameterCount(int l) {
        long d = hiddenSize;
        long q = (long) layerHeads[l] * headDim;
        long kv = (long) layerKvHeads[l] * headDim;
        return 2 * d + d * q * 2 + d * kv * 2 + 3 * d * layerIntermediate[l];
    }

    /** Every parameter: embeddings, layers, final norm and (untied) LM head. */
    public long parameterCount() {
        long total = (long) vocabSize * hiddenSize + hiddenSize;
        if (!tieWordEmbeddings) {
            total += (long) vocabSize * hiddenSize;
        }
        for (int l = 0; l < numHiddenLayers; l++) {
            total += layerParameterCount(l);
        }
        return total;
    }

    /** Attention query heads per key/value head in layer {@code l} (1 for MHA). */
    public int groupSize(int l) {
        return layerKvHeads[l] == 0 ? numAttentionHeads / numKeyValueHeads : layerHeads[l] / layerKvHeads[l];
    }

    // ---------------------------------------------------------------- accessors

    public int hiddenSize() { return hiddenSize; }
    public int intermediateSize() { return intermediateSize; }
    public int numHiddenLayers() { return numHiddenLayers; }
    public int numAttentionHeads() { return numAttentionHeads; }
    public int numKeyValueHeads() { return numKeyValueHeads; }
    public int headDim() { return headDim; }
    public double rmsNormEps() { return rmsNormEps; }
    public double ropeTheta() { return ropeTheta; }
    public RopeScaling ropeScaling() { return ropeScaling; }
    public int maxPositionEmbeddings() { return maxPositionEmbeddings; }
    public int vocabSize() { return vocabSize; }
    public boolean tieWordEmbeddings() { return tieWordEmbeddings; }
    public Integer bosTokenId() { return bosTokenId; }
    public int[] eosTokenIds() { return eosTokenIds.clone(); }
    public Integer padTokenId() { return padTokenId; }
    public String torchDtype() { return torchDtype; }
    public int layerHeads(int l) { return layerHeads[l]; }
    public int layerKvHeads(int l) { return layerKvHeads[l]; }
    public int layerIntermediate(int l) { return layerIntermediate[l]; }
    public int[] layerHeads() { return layerHeads.clone(); }
    public int[] layerKvHeads() { return layerKvHeads.clone(); }
    public int[] layerIntermediate() { return layerIntermediate.clone(); }

    @Override
    public String toString() {
        return "LlamaConfig{layers=" + numHiddenLayers + ", hidden=" + hiddenSize + ", heads=" + numAttentionHeads
                + ", kvHeads=" + numKeyValueHeads + ", headDim=" + headDim + ", intermediate=" + intermediateSize
                + ", vocab=" + vocabSize + ", tied=" + tieWordEmbeddings + ", uniform=" + isUniform() + "}";
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.hiddenSize = hiddenSize;
        b.intermediateSize = intermediateSize;
        b.numHiddenLayers = numHiddenLayers;
        b.numAttentionHeads = numAttentionHeads;
        b.numKeyValueHeads = numKeyValueHeads;
        b.headDim = headDim;
        b.rmsNormEps = rmsNormEps;
        b.ropeTheta = ropeTheta;
        b.ropeScaling = ropeScaling;
        b.maxPositionEmbeddings = maxPositionEmbeddings;
        b.vocabSize = vocabSize;
        b.tieWordEmbeddings = tieWordEmbeddings;
        b.bosTokenId = bosTokenId;
        b.eosTokenIds = eosTokenIds.clone();
        b.padTokenId = padTokenId;
        b.torchDtype = torchDtype;
        b.layerHeads = layerHeads.clone();
        b.layerKvHeads = layerKvHeads.clone();
        b.layerIntermediate = layerIntermediate.clone();
        b.sourceJson = sourceJson;
        return b;
    }

    /** Builds configs; unset per-layer widths default to the uniform values. */
    public static final class Builder {
        private int hiddenSize;
        private int intermediateSize;
        private int numHiddenLayers;
        private int numAttentionHeads;
        private int numKeyValueHeads;
        private int headDim;
        private double rmsNormEps = 1e-6;
        private double ropeTheta = 10000.0;
        private RopeScaling ropeScaling;
        private int maxPositionEmbeddings = 2048;
        private int vocabSize;
        private boolean tieWordEmbeddings;
        private Integer bosTokenId = 1;
        private int[] eosTokenIds = {2};
        private Integer padTokenId;
        private String torchDtype = "float32";
        private int[] layerHeads;
        private int[] layerKvHeads;
        private int[] layerIntermediate;
        private String sourceJson;

        public Builder hiddenSize(int v) { hiddenSize = v; return this; }
        public Builder intermediateSize(int v) { intermediateSize = v; return this; }
        public Builder numHiddenLayers(int v) { numHiddenLayers = v; return this; }
        public Builder numAttentionHeads(int v) { numAttentionHeads = v; return this; }
        public Builder numKeyValueHeads(int v) { numKeyValueHeads = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder rmsNormEps(double v) { rmsNormEps = v; return this; }
        public Builder ropeTheta(double v) { ropeTheta = v; return this; }
        public Builder ropeScaling(RopeScaling v) { ropeScaling = v; return this; }
        public Builder maxPositionEmbeddings(int v) { maxPositionEmbeddings = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder tieWordEmbeddings(boolean v) { tieWordEmbeddings = v; return this; }
        public Builder bosTokenId(Integer v) { bosTokenId = v; return this; }
        public Builder eosTokenIds(int... v) { eosTokenIds = v; return this; }
        public Builder padTokenId(Integer v) { padTokenId = v; return this; }
        public Builder torchDtype(String v) { torchDtype = v; return this; }
        /** Per-layer widths; null keeps the uniform value of the corresponding standard field. */
        public Builder layerWidths(int[] heads, int[] kvHeads, int[] intermediate) {
            layerHeads = heads;
            layerKvHeads = kvHeads;
            layerIntermediate = intermediate;
            return this;
        }

        public LlamaConfig build() {
            return new LlamaConfig(this);
        }
    }
}
