package dev.spruce.model.safetensors;

import static dev.spruce.model.safetensors.TestFiles.hadoopPath;
import static dev.spruce.model.safetensors.TestFiles.littleEndianFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The on-disk format checked against bytes built and parsed by hand, not by the code under test. */
class SafetensorsFormatTest {
    @TempDir
    java.nio.file.Path tmp;

    @Test
    void readsAHandBuiltFile() {
        // unsorted keys, no padding, metadata last: a reader must accept all of it
        String header = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]},"
                + "\"__metadata__\":{\"source\":\"hand\"}}";
        ByteBuffer data = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN)
                .putFloat(1.5f).putFloat(-2f).putFloat(3.25f).putFloat(1e-3f)
                .putShort((short) 0x3fc0).putShort((short) 0xc049);
        Path file = TestFiles.write(tmp.resolve("hand.safetensors"), TestFiles.safetensors(header, data.array()));

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("a", "b", "c"), List.copyOf(f.tensors().keySet()));
            assertEquals(new TensorInfo("c", DType.BF16, new long[] {2}, 16, 20), f.info("c"));
            assertEquals(Map.of("source", "hand"), f.metadata());
            assertArrayEquals(new float[] {1.5f, -2f}, f.readFloat("a"));
            assertArrayEquals(new float[] {3.25f, 1e-3f}, f.readFloat("b"));
            assertArrayEquals(new float[] {1.5f, -3.140625f}, f.readFloat("c"));
            assertArrayEquals(new double[] {3.25, (double) 1e-3f}, f.readDouble("b"));
            assertArrayEquals(new byte[] {(byte) 0xc0, 0x3f, 0x49, (byte) 0xc0}, f.readRaw("c"));
        }
    }

    @Test
    void decodingIntoADirectBufferGivesTheStoredValuesAcrossReadChunks() {
        // more elements than one 1 MiB read chunk holds (262,144 F32, 524,288 BF16), so chunk offsets matter
        int f32 = 300_001;
        int bf16 = 600_003;
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + f32 + "],\"data_offsets\":[0," + 4 * f32 + "]},"
                + "\"h\":{\"dtype\":\"BF16\",\"shape\":[" + bf16 + "],\"data_offsets\":[" + 4 * f32 + ","
                + (4 * f32 + 2 * bf16) + "]}}";
        ByteBuffer data = ByteBuffer.allocate(4 * f32 + 2 * bf16).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < f32; i++) {
            data.putFloat(i * 0.001f - 7f);
        }
        for (int i = 0; i < bf16; i++) {
            data.putShort((short) (0x3f80 + (i % 251) - 125)); // bfloat16 values around 1.0, both signs of exponent
        }
        Path file = TestFiles.write(tmp.resolve("big.safetensors"), TestFiles.safetensors(header, data.array()));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            java.nio.FloatBuffer w = ByteBuffer.allocateDirect(4 * f32).order(ByteOrder.nativeOrder()).asFloatBuffer();
            f.readFloat("w", 0, w);
            for (int i = 0; i < f32; i++) {
                assertEquals(Float.floatToIntBits(i * 0.001f - 7f), Float.floatToIntBits(w.get(i)), "w[" + i + "]");
            }
            java.nio.FloatBuffer h = ByteBuffer.allocateDirect(4 * bf16).order(ByteOrder.nativeOrder()).asFloatBuffer();
            f.readFloat("h", 0, h);
            for (int i = 0; i < bf16; i++) {
                // a bfloat16 is the upper half of a float32's bits
                assertEquals((0x3f80 + (i % 251) - 125) << 16, Float.floatToIntBits(h.get(i)), "h[" + i + "]");
            }
            // a range that starts inside a chunk and spans more than one
            int first = 37_000;
            java.nio.FloatBuffer part = ByteBuffer.allocateDirect(4 * (f32 - first)).order(ByteOrder.nativeOrder())
                    .asFloatBuffer();
            f.readFloat("w", first, part);
            for (int i = 0; i < f32 - first; i++) {
                assertEquals(Float.floatToIntBits((first + i) * 0.001f - 7f), Float.floatToIntBits(part.get(i)),
                        "w[" + (first + i) + "]");
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> f.readFloat("w", 1, java.nio.FloatBuffer.allocate(f32)));
            assertTrue(e.getMessage().contains("tensor 'w' has 300001 elements, asked for 300001 from element 1"),
                    e.getMessage());
        }
    }

    @Test
    void writerHeaderIsSortedPaddedAndLaidOutInGivenOrder() throws Exception {
        Path file = hadoopPath(tmp.resolve("w.safetensors"));
        List<TensorSpec> specs = List.of(TensorSpec.of("z", DType.F32, 2), TensorSpec.of("a", DType.F16, 3),
                TensorSpec.of("m", DType.I64, 1, 1));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of("k", "v"))) {
            w.write("z", new float[] {1f, -1f});
            w.write("a", new float[] {0.5f, 2f, -0f});
            w.write("m", new double[] {-3});
        }

        byte[] bytes = Files.readAllBytes(tmp.resolve("w.safetensors"));
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) in.getLong();
        String header = new String(bytes, 8, headerLength, StandardCharsets.UTF_8);
        String expected = "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
                + "\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[8,14]},"
                + "\"m\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[14,22]},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        assertEquals(0, headerLength % 8, "data section starts on an 8-byte boundary");
        assertEquals(expected, header.stripTrailing());
        assertTrue(headerLength - expected.length() < 8);
        assertEquals(" ".repeat(headerLength - expected.length()), header.substring(expected.length()));

        in.position(8 + headerLength);
        assertEquals(bytes.length - 8 - headerLength, 22, "data section holds exactly the tensors");
        assertEquals(1f, in.getFloat());
        assertEquals(-1f, in.getFloat());
        assertEquals((short) 0x3800, in.getShort());
        assertEquals((short) 0x4000, in.getShort());
        assertEquals((short) 0x8000, in.getShort());
        assertEquals(-3L, in.getLong());
    }

    @Test
    void fileUriAndPlainPathReadTheSameFile() {
        java.nio.file.Path local = tmp.resolve("uri.safetensors");
        float[] values = {0.25f, -8f, 3f};
        Path uri = new Path(local.toUri());
        Path plain = new Path(local.toString());
        assertEquals("file", uri.toUri().getScheme());
        assertNull(plain.toUri().getScheme());
        SafetensorsWriter.write(uri, Map.of("w", Tensor.of(DType.F32, new long[] {3}, values)), Map.of());

        for (Path path : List.of(uri, plain, Fs.path(local.toString()))) {
            try (SafetensorsFile f = SafetensorsFile.open(path)) {
                assertArrayEquals(values, f.readFloat("w"), path.toString());
            }
        }
    }

    /**
     * A sparse file of 3 GiB: offsets beyond 2^31 are read with positioned reads, and a tensor of more than
     * 2^31 - 1 elements is refused with a clear message instead of an overflow or OutOfMemoryError.
     */
    @Test
    void readsTensorsPastTwoGibAndRefusesOnesTooLargeForAnArray() throws Exception {
        long big = 3L << 30;
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 8) + "]}}";
        java.nio.file.Path local = tmp.resolve("sparse.safetensors");
        byte[] prefix = TestFiles.safetensors(header, new byte[0]);
        try (RandomAccessFile raf = new RandomAccessFile(local.toFile(), "rw")) {
            raf.write(prefix);
            raf.seek(prefix.length + big);
            raf.write(littleEndianFloats(6.5f, -0.125f));
        }

        try (SafetensorsFile f = SafetensorsFile.open(hadoopPath(local))) {
            assertEquals(big, f.info("tail").begin());
            assertArrayEquals(new float[] {6.5f, -0.125f}, f.readFloat("tail"));
            InvalidModelException e = assertThrows(InvalidModelException.class, () -> f.readFloat("big"));
            assertTrue(e.getMessage().contains("sparse.safetensors: tensor 'big': has 3221225472 elements, more than one Java array holds"),
                    e.getMessage());
            e = assertThrows(InvalidModelException.class, () -> f.readRaw("big"));
            assertTrue(e.getMessage().contains("has 3221225472 bytes"), e.getMessage());
        }
    }

    @Test
    void emptyAndScalarTensorsAreAllowed() {
        Path file = hadoopPath(tmp.resolve("edge.safetensors"));
        SafetensorsWriter.write(file, Map.of(
                "empty", Tensor.of(DType.F32, new long[] {0, 5}, new float[0]),
                "scalar", Tensor.of(DType.F64, new long[0], new double[] {2.5})), Map.of());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(0, f.readFloat("empty").length);
            assertArrayEquals(new double[] {2.5}, f.readDouble("scalar"));
            assertEquals(1, f.info("scalar").numel());
            assertTrue(Arrays.equals(new long[0], f.info("scalar").shape()));
        }
    }
}
