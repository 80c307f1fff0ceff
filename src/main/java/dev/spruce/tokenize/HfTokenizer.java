package dev.spruce.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.io.JsonErrors;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.apache.hadoop.fs.Path;

/**
 * A Hugging Face {@code tokenizer.json} run by DJL's native tokenizers library, with truncation, padding
 * and automatic special tokens all off: {@link #encode} returns every token of the text, and adds BOS only
 * when asked.
 *
 * <p>Special ids come from {@code tokenizer_config.json} ({@code bos_token}, {@code eos_token},
 * {@code pad_token}: a string or a {@code {"content": ...}} object, looked up in the vocabulary), else from
 * {@code config.json} ({@code bos_token_id}, {@code eos_token_id} (the first one when a list),
 * {@code pad_token_id}). An undefined BOS or EOS is -1; an undefined pad is the EOS id, or 0.
 */
public final class HfTokenizer implements Tokenizer {
    public static final String TOKENIZER_FILE = "tokenizer.json";
    public static final String TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
    public static final String MODEL_CONFIG_FILE = "config.json";

    private static final ObjectMapper JSON = new ObjectMapper();
    /** DJL reads its settings as strings; these turn off everything that would change the id sequence. */
    private static final Map<String, String> DJL_OPTIONS = Map.of(
            "truncation", "false",
            "padding", "false",
            "addSpecialTokens", "false");

    private final HuggingFaceTokenizer tokenizer;
    private final Path source;
    private final int vocabSize;
    private final int bosId;
    private final int eosId;
    private final int padId;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, Path source, int vocabSize, int bosId, int eosId, int padId) {
        this.tokenizer = tokenizer;
        this.source = source;
        this.vocabSize = vocabSize;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
    }

    /** Loads {@code tokenizer.json} (and the special-token settings beside it) from a model directory on any Hadoop FS. */
    public static HfTokenizer load(Path modelDir) {
        Path file = new Path(modelDir, TOKENIZER_FILE);
        if (!Fs.exists(file)) {
            throw new InvalidModelException(file + ": " + TOKENIZER_FILE + " not found (the model directory needs "
                    + "the Hugging Face tokenizer file)");
        }
        byte[] bytes;
        try {
            bytes = Fs.readAll(file);
        } catch (UncheckedIOException e) {
            throw new InvalidModelException(file + ": cannot read " + TOKENIZER_FILE + ": " + e.getMessage(), e);
        }
        Map<String, Integer> vocab = readVocabulary(readJson(file, bytes), file);
        int vocabSize = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;

        JsonNode tokenizerConfig = optionalJson(new Path(modelDir, TOKENIZER_CONFIG_FILE));
        JsonNode modelConfig = optionalJson(new Path(modelDir, MODEL_CONFIG_FILE));
        SpecialIds ids = new SpecialIds(modelDir, vocab, vocabSize, tokenizerConfig, modelConfig);
        int bos = ids.resolve("bos_token", "bos_token_id");
        int eos = ids.resolve("eos_token", "eos_token_id");
        int pad = ids.resolve("pad_token", "pad_token_id");
        if (pad < 0) {
            pad = Math.max(eos, 0);
        }

        HuggingFaceTokenizer djl;
        try {
            djl = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), DJL_OPTIONS);
        } catch (IOException | RuntimeException e) {
            throw new InvalidModelException(file + ": the tokenizers library cannot load it: " + e.getMessage(), e);
        }
        return new HfTokenizer(djl, modelDir, vocabSize, bos, eos, pad);
    }

    private static JsonNode readJson(Path file, byte[] bytes) {
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || !n.isObject()) {
                throw new InvalidModelException(file + ": expected a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new InvalidModelException(file + ": not valid JSON: " + JsonErrors.oneLine(e), e);
        }
    }

    private static JsonNode optionalJson(Path file) {
        return Fs.exists(file) ? readJson(file, Fs.readAll(file)) : null;
    }

    /** Token text to id: the model vocabulary (an object, or a Unigram list of [piece, score]) plus added_tokens. */
    private static Map<String, Integer> readVocabulary(JsonNode root, Path file) {
        Map<String, Integer> vocab = new HashMap<>();
        JsonNode modelVocab = root.path("model").path("vocab");
        if (modelVocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = modelVocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                vocab.put(e.getKey(), e.getValue().asInt());
            }
        } else if (modelVocab.isArray()) {
            for (int id = 0; id < modelVocab.size(); id++) {
                vocab.put(modelVocab.get(id).path(0).asText(), id);
            }
        } else {
            throw new InvalidModelException(file + ": field model.vocab is missing (expected an object of token to id, "
                    + "or a list of [token, score])");
        }
        for (JsonNode added : root.path("added_tokens")) {
            vocab.put(added.path("content").asText(), added.path("id").asInt());
        }
        return vocab;
    }

    /** Resolves one special token from tokenizer_config.json, falling back to config.json. */
    private record SpecialIds(Path dir, Map<String, Integer> vocab, int vocabSize, JsonNode tokenizerConfig,
                              JsonNode modelConfig) {
        int resolve(String tokenField, String idField) {
            JsonNode token = tokenizerConfig == null ? null : tokenizerConfig.get(tokenField);
            if (token != null && token.isObject()) {
                token = token.get("content");
            }
            if (token != null && token.isTextual()) {
                Integer id = vocab.get(token.asText());
                if (id == null) {
                    throw new InvalidModelException(new Path(dir, TOKENIZER_CONFIG_FILE) + ": field " + tokenField
                            + " is '" + token.asText() + "', which is not a token of " + TOKENIZER_FILE);
                }
                return id;
            }
            JsonNode id = modelConfig == null ? null : modelConfig.get(idField);
            if (id != null && id.isArray()) {
                id = id.get(0);
            }
            if (id == null || id.isNull()) {
                return -1;
            }
            if (!id.canConvertToInt() || id.asInt() < 0 || id.asInt() >= vocabSize) {
                throw new InvalidModelException(new Path(dir, MODEL_CONFIG_FILE) + ": field " + idField + " is " + id
                        + ", expected a token id in 0.." + (vocabSize - 1));
            }
            return id.asInt();
        }
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        if (addBos && bosId < 0) {
            throw new IllegalStateException(source + ": the tokenizer defines no BOS token (" + TOKENIZER_CONFIG_FILE
                    + " bos_token, " + MODEL_CONFIG_FILE + " bos_token_id)");
        }
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int offset = addBos ? 1 : 0;
        int[] out = new int[ids.length + offset];
        if (addBos) {
            out[0] = bosId;
        }
        for (int i = 0; i < ids.length; i++) {
            out[i + offset] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** The text of the ids; special tokens are kept, so {@code decode(encode(t, false))} is {@code t}. */
    @Override
    public String decode(int[] ids) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            wide[i] = ids[i];
        }
        return tokenizer.decode(wide, false);
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int padId() {
        return padId;
    }

    /** One more than the largest id of the model vocabulary and the added tokens. */
    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
