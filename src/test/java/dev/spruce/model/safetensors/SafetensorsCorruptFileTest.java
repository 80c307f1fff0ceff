package dev.spruce.model.safetensors;

import static dev.spruce.model.safetensors.TestFiles.hadoopPath;
import static dev.spruce.model.safetensors.TestFiles.littleEndianFloats;
import static dev.spruce.model.safetensors.TestFiles.safetensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.io.InvalidModelException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each broken file is refused at open with a message naming the file, the tensor and the problem. */
class SafetensorsCorruptFileTest {
    @TempDir
    java.nio.file.Path tmp;

    static Stream<Arguments> corruptFiles() {
        return Stream.of(
                Arguments.of("short", new byte[] {1, 2, 3}, "file is 3 bytes, too short for the 8-byte header length"),
                Arguments.of("header-past-end", withHeaderLength(1000, "{}"),
                        "header length 1000 runs past the end of the file (10 bytes)"),
                Arguments.of("absurd-header", withHeaderLength(1L << 62, "{}"),
                        "header length 4611686018427387904 is above the limit of 100000000 bytes"),
                Arguments.of("unsigned-header", withHeaderLength(-1L, "{}"),
                        "header length 18446744073709551615 is above the limit"),
                Arguments.of("not-json", safetensors("{\"w\": [", new byte[0]), "header is not valid JSON"),
                Arguments.of("not-object", safetensors("[1, 2]", new byte[0]), "header is a JSON array, expected a JSON object"),
                Arguments.of("duplicate", safetensors(entry("w", "F32", "[1]", "[0,4]") .replace("}}", "},") + entry("w", "F32", "[1]", "[4,8]").substring(1), new byte[8]),
                        "header is not valid JSON: Duplicate field 'w'"),
                Arguments.of("unknown-dtype", safetensors(entry("w", "Q4", "[1]", "[0,4]"), new byte[4]),
                        "tensor 'w': unknown dtype 'Q4', expected one of [F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL]"),
                Arguments.of("no-dtype", safetensors("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]),
                        "tensor 'w': dtype is missing"),
                Arguments.of("negative-shape", safetensors(entry("w", "F32", "[2,-3]", "[0,24]"), new byte[24]),
                        "tensor 'w': shape [2,-3] has entry -3, expected an array of non-negative integers"),
                Arguments.of("fractional-shape", safetensors(entry("w", "F32", "[2.5]", "[0,10]"), new byte[10]),
                        "tensor 'w': shape [2.5] has entry 2.5"),
                Arguments.of("overflowing-shape", safetensors(entry("w", "F32", "[4294967296,4294967296]", "[0,16]"), new byte[16]),
                        "tensor 'w': shape [4294967296, 4294967296] x F32 is larger than 2^63 bytes"),
                Arguments.of("huge-integer-shape", safetensors(entry("w", "F32", "[99999999999999999999]", "[0,16]"), new byte[16]),
                        "tensor 'w': shape [99999999999999999999] has entry 99999999999999999999"),
                Arguments.of("offsets-arity", safetensors(entry("w", "F32", "[1]", "[0]"), new byte[4]),
                        "tensor 'w': data_offsets is [0], expected an array of 2 non-negative integers"),
                Arguments.of("offsets-past-end", safetensors(entry("w", "F32", "[4]", "[8,24]"), new byte[16]),
                        "tensor 'w': data_offsets [8, 24] end past the data section of 16 bytes"),
                Arguments.of("begin-after-end", safetensors(entry("w", "F32", "[2]", "[16,8]"), new byte[16]),
                        "tensor 'w': data_offsets [16, 8] begin is after end"),
                Arguments.of("wrong-span", safetensors(entry("model.norm.weight", "F32", "[4]", "[0,10]"), new byte[16]),
                        "tensor 'model.norm.weight': data_offsets [0, 10] span 10 bytes but shape [4] x F32 needs 16"),
                Arguments.of("overlap", safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", new byte[24]),
                        "tensor 'b': data_offsets [8, 24] overlap tensor 'a' at [0, 16]"),
                Arguments.of("truncated", truncated(),
                        "tensor 'b': data_offsets [16, 32] end past the data section of 20 bytes (file truncated or offsets wrong)"),
                Arguments.of("metadata-number", safetensors("{\"__metadata__\":{\"ok\":\"yes\",\"n\":3}}", new byte[0]),
                        "__metadata__ value of 'n' is a JSON number, expected a string"),
                Arguments.of("metadata-array", safetensors("{\"__metadata__\":[\"x\"]}", new byte[0]),
                        "__metadata__ is a JSON array, expected an object of strings"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptFiles")
    void corruptFileIsRejectedAtOpen(String name, byte[] content, String problem) {
        String fileName = name + ".safetensors";
        Path file = TestFiles.write(tmp.resolve(fileName), content);
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "expected '" + problem + "' in: " + e.getMessage());
    }

    @Test
    void missingShardNamedByTheIndexIsRejectedAtOpen() throws Exception {
        java.nio.file.Path dir = Files.createDirectories(tmp.resolve("m"));
        writeShard(dir, "model-00001-of-00002.safetensors", "a");
        writeIndex(dir, Map.of("a", "model-00001-of-00002.safetensors", "b", "model-00002-of-00002.safetensors"));
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> SafetensorsModel.open(hadoopPath(dir)));
        assertEquals(hadoopPath(dir.resolve(SafetensorsModel.INDEX_FILE)) + ": weight_map maps tensor 'b' to shard "
                + "'model-00002-of-00002.safetensors', which does not exist in " + hadoopPath(dir), e.getMessage());
    }

    @Test
    void indexMappingATensorTheShardLacksIsRejectedWhenTheShardIsOpened() throws Exception {
        java.nio.file.Path dir = Files.createDirectories(tmp.resolve("m"));
        writeShard(dir, "model-00001-of-00002.safetensors", "a");
        writeShard(dir, "model-00002-of-00002.safetensors", "b");
        writeIndex(dir, Map.of("a", "model-00001-of-00002.safetensors", "b", "model-00002-of-00002.safetensors",
                "ghost", "model-00002-of-00002.safetensors"));
        try (SafetensorsModel model = SafetensorsModel.open(hadoopPath(dir))) {
            assertEquals(List.of(1f, 2f), boxed(model.readFloat("a")));
            InvalidModelException e = assertThrows(InvalidModelException.class, () -> model.readFloat("b"));
            assertEquals(hadoopPath(dir.resolve(SafetensorsModel.INDEX_FILE)) + ": weight_map maps tensor 'ghost' to shard "
                    + "'model-00002-of-00002.safetensors', which has no such tensor", e.getMessage());
        }
    }

    @Test
    void indexShardOutsideTheModelDirectoryIsRejected() throws Exception {
        java.nio.file.Path dir = Files.createDirectories(tmp.resolve("m"));
        writeShard(tmp, "outside.safetensors", "a");
        writeIndex(dir, Map.of("a", "../outside.safetensors"));
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> SafetensorsModel.open(hadoopPath(dir)));
        assertTrue(e.getMessage().contains("weight_map maps tensor 'a' to \"../outside.safetensors\", expected the file name "
                + "of a shard in"), e.getMessage());
    }

    @Test
    void aShardNameThatReadsAsAUriIsRejected() throws Exception {
        java.nio.file.Path dir = Files.createDirectories(tmp.resolve("m"));
        writeIndex(dir, Map.of("a", "file:passwd"));
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> SafetensorsModel.open(hadoopPath(dir)));
        assertTrue(e.getMessage().contains("weight_map maps tensor 'a' to \"file:passwd\", expected the file name of a "
                + "shard in"), e.getMessage());
    }

    @Test
    void indexWithoutWeightMapIsRejected() throws Exception {
        java.nio.file.Path dir = Files.createDirectories(tmp.resolve("m"));
        Files.writeString(dir.resolve(SafetensorsModel.INDEX_FILE), "{\"metadata\": {}}");
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> SafetensorsModel.open(hadoopPath(dir)));
        assertTrue(e.getMessage().endsWith(SafetensorsModel.INDEX_FILE + ": weight_map is missing or not an object of tensor "
                + "name -> shard file"), e.getMessage());
    }

    @Test
    void directoryWithoutWeightsNamesWhatWasExpected() throws Exception {
        java.nio.file.Path dir = Files.createDirectories(tmp.resolve("empty-model"));
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> SafetensorsModel.open(hadoopPath(dir)));
        assertEquals(hadoopPath(dir) + ": no model weights: expected model.safetensors or model.safetensors.index.json",
                e.getMessage());
    }

    @Test
    void unknownTensorIsNamed() throws Exception {
        Path file = writeShard(tmp, "one.safetensors", "a");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            InvalidModelException e = assertThrows(InvalidModelException.class, () -> f.readFloat("nope"));
            assertEquals(file + ": tensor 'nope': no such tensor in this file (1 tensors)", e.getMessage());
        }
    }

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "{\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}";
    }

    private static byte[] withHeaderLength(long length, String rest) {
        byte[] tail = rest.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + tail.length).order(ByteOrder.LITTLE_ENDIAN).putLong(length).put(tail).array();
    }

    /** A valid two-tensor file with the last 12 bytes of its data cut off. */
    private static byte[] truncated() {
        byte[] whole = safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", new byte[32]);
        return Arrays.copyOf(whole, whole.length - 12);
    }

    private static Path writeShard(java.nio.file.Path dir, String fileName, String tensor) {
        return TestFiles.write(dir.resolve(fileName), safetensors(entry(tensor, "F32", "[2]", "[0,8]"), littleEndianFloats(1f, 2f)));
    }

    private static void writeIndex(java.nio.file.Path dir, Map<String, String> weightMap) throws Exception {
        String json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(Map.of("weight_map", weightMap));
        Files.writeString(dir.resolve(SafetensorsModel.INDEX_FILE), json);
    }

    private static List<Float> boxed(float[] values) {
        Float[] boxed = new Float[values.length];
        for (int i = 0; i < values.length; i++) {
            boxed[i] = values[i];
        }
        return List.of(boxed);
    }
}
