package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.cli.CliRun;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every size field of config.json has a range, checked as the file is read, before anything is allocated. */
class LlamaConfigLimitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A valid config.json of a tiny model with one field replaced by raw JSON text. */
    private Path configWith(String field, String rawValue) throws Exception {
        ObjectNode n = (ObjectNode) JSON.readTree(TinyModels.config(2, 4, 2).toJson());
        n.set(field, JSON.readTree(rawValue));
        Path model = Files.createDirectories(dir.resolve(field + "-" + Math.abs(rawValue.hashCode())));
        Files.writeString(model.resolve("config.json"), JSON.writeValueAsString(n));
        return model.resolve("config.json");
    }

    private String failure(String field, String rawValue) throws Exception {
        Path file = configWith(field, rawValue);
        String message = assertThrows(InvalidModelException.class, () -> LlamaConfig.read(Fs.path(file.toString())))
                .getMessage();
        assertTrue(message.startsWith(Fs.path(file.toString()) + ": "), message);
        return message.substring((Fs.path(file.toString()) + ": ").length());
    }

    static Stream<Arguments> outOfRange() {
        String widths = "expected an integer in 1..1000000";
        return Stream.of(
                Arguments.of("num_hidden_layers", "1000000000", "expected an integer in 1..10000"),
                Arguments.of("num_hidden_layers", "1e9", "expected an integer in 1..10000"),
                Arguments.of("num_hidden_layers", "0", "expected an integer in 1..10000"),
                Arguments.of("num_hidden_layers", "10001", "expected an integer in 1..10000"),
                Arguments.of("hidden_size", "0", widths),
                Arguments.of("hidden_size", "1000001", widths),
                Arguments.of("intermediate_size", "0", widths),
                Arguments.of("intermediate_size", "-24", widths),
                Arguments.of("num_attention_heads", "0", widths),
                Arguments.of("num_key_value_heads", "0", widths),
                Arguments.of("head_dim", "0", widths),
                Arguments.of("head_dim", "2000000", widths),
                Arguments.of("vocab_size", "0", widths),
                Arguments.of("vocab_size", "5000000000", widths),
                Arguments.of("vocab_size", "\"37\"", widths),
                Arguments.of("max_position_embeddings", "0", "expected an integer in 1..10000000"),
                Arguments.of("max_position_embeddings", "10000001", "expected an integer in 1..10000000"));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @MethodSource("outOfRange")
    void aSizeOutOfRangeNamesFileFieldValueAndRange(String field, String value, String expected) throws Exception {
        String shown = JSON.readTree(value).toString();
        assertEquals("field '" + field + "' = " + shown + ", " + expected, failure(field, value));
    }

    @Test
    void perLayerWidthsHaveARangeToo() throws Exception {
        assertEquals("field 'spruce_intermediate_size_per_layer[1]' = 1000001, expected an integer in 0..1000000",
                failure(LlamaConfig.LAYER_INTERMEDIATE_FIELD, "[24, 1000001]"));
        assertEquals("field 'spruce_num_attention_heads_per_layer[0]' = -1, expected an integer in 0..1000000",
                failure(LlamaConfig.LAYER_HEADS_FIELD, "[-1, 4]"));
        assertEquals("field 'spruce_num_key_value_heads_per_layer' is an array of 10001 entries, expected an array of "
                + "one integer in 0..1000000 per layer", failure(LlamaConfig.LAYER_KV_HEADS_FIELD,
                "[" + "2,".repeat(10000) + "2]"));
        assertEquals("field 'spruce_num_key_value_heads_per_layer' has 3 entries, expected num_hidden_layers = 2",
                failure(LlamaConfig.LAYER_KV_HEADS_FIELD, "[2, 2, 2]"));
    }

    @Test
    void theAttentionWidthIsBoundedSoNoCountOverflows() throws Exception {
        assertEquals("field 'num_attention_heads' = 1000 with 'head_dim' = 2000, expected num_attention_heads x "
                + "head_dim <= 1000000",
                failureWith("{\"num_attention_heads\": 1000, \"num_key_value_heads\": 1000, \"head_dim\": 2000}"));
    }

    private String failureWith(String fields) throws Exception {
        ObjectNode n = (ObjectNode) JSON.readTree(TinyModels.config(2, 4, 2).toJson());
        n.setAll((ObjectNode) JSON.readTree(fields));
        Path model = Files.createDirectories(dir.resolve("combined"));
        Files.writeString(model.resolve("config.json"), JSON.writeValueAsString(n));
        String where = Fs.path(model.resolve("config.json").toString()) + ": ";
        String message = assertThrows(InvalidModelException.class, () -> LlamaConfig.read(Fs.path(model.toString())))
                .getMessage();
        assertTrue(message.startsWith(where), message);
        return message.substring(where.length());
    }

    @Test
    void theLimitsThemselvesAreAccepted() throws Exception {
        assertEquals(10_000, LlamaConfig.read(Fs.path(configWith("num_hidden_layers", "10000").toString()))
                .numHiddenLayers());
        assertEquals(10_000_000, LlamaConfig.read(Fs.path(configWith("max_position_embeddings", "10000000")
                .toString())).maxPositionEmbeddings());
        assertEquals(1_000_000, LlamaConfig.read(Fs.path(configWith("vocab_size", "1000000").toString())).vocabSize());
    }

    @Test
    void aBuiltConfigIsBoundedBeforeItsLayerArraysExist() {
        InvalidModelException e = assertThrows(InvalidModelException.class,
                () -> TinyModels.builder(1_000_000_000, 4, 2).build());
        assertEquals("config: field 'num_hidden_layers' = 1000000000, expected an integer in 1..10000", e.getMessage());
    }

    /** A block pruned from every layer is written as per-layer widths, since a standard width of 0 is refused. */
    @Test
    void aModelWithoutAnyMlpRoundTrips() {
        LlamaConfig c = TinyModels.builder(2, 4, 2).layerWidths(null, null, new int[] {0, 0}).build();
        assertTrue(c.isUniform());
        LlamaConfig back = LlamaConfig.parse(c.toJson(), "config.json");
        assertArrayEquals(new int[] {0, 0}, back.layerIntermediate());
        assertEquals(c.parameterCount(), back.parameterCount());
    }

    @Test
    void inspectReportsTheFieldInOneLineWithANonZeroExit() throws Exception {
        Path file = configWith("num_hidden_layers", "1000000000");
        CliRun.Result r = CliRun.spruce("inspect", file.getParent().toString());
        assertEquals(1, r.exit());
        assertEquals(Fs.path(file.toString()) + ": field 'num_hidden_layers' = 1000000000, expected an integer in "
                + "1..10000", r.error());
    }
}
