package dev.spruce.model.safetensors;

import dev.spruce.io.Fs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.SortedMap;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.Path;

/**
 * One safetensors file on any Hadoop file system, opened by reading and validating only its header; each
 * read fetches just that tensor's bytes with positioned reads, so files of any size (beyond 2 GiB included)
 * cost memory only for the tensor asked for. Positioned reads do not move a shared file pointer, so
 * concurrent reads of different tensors are safe.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Longer headers are refused (the reference implementation's limit, far above any real model's). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** The longest array the JVM reliably allocates (as {@code jdk.internal.util.ArraysSupport}). */
    static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;
    private static final int HEADER_LENGTH_BYTES = 8;
    private static final int READ_CHUNK_BYTES = 1 << 20;

    private final Path file;
    private final FSDataInputStream in;
    private final long dataStart;
    private final SafetensorsHeader header;

    private SafetensorsFile(Path file, FSDataInputStream in, long dataStart, SafetensorsHeader header) {
        this.file = file;
        this.in = in;
        this.dataStart = dataStart;
        this.header = header;
    }

    /** Opens {@code file} and validates its header; throws InvalidModelException naming the problem. */
    public static SafetensorsFile open(Path file) {
        FSDataInputStream in = Fs.open(file);
        try {
            long fileSize = Fs.length(file);
            if (fileSize < HEADER_LENGTH_BYTES) {
                throw SafetensorsHeader.problem(file, "file is " + fileSize + " bytes, too short for the 8-byte header length");
            }
            byte[] prefix = new byte[HEADER_LENGTH_BYTES];
            in.readFully(0, prefix);
            long headerLength = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
                throw SafetensorsHeader.problem(file, "header length " + Long.toUnsignedString(headerLength)
                        + " is above the limit of " + MAX_HEADER_BYTES + " bytes (not a safetensors file?)");
            }
            long dataStart = HEADER_LENGTH_BYTES + headerLength;
            if (dataStart > fileSize) {
                throw SafetensorsHeader.problem(file, "header length " + headerLength + " runs past the end of the file ("
                        + fileSize + " bytes)");
            }
            byte[] json = new byte[(int) headerLength];
            in.readFully(HEADER_LENGTH_BYTES, json);
            SafetensorsHeader header = SafetensorsHeader.parse(file, json, fileSize - dataStart);
            return new SafetensorsFile(file, in, dataStart, header);
        } catch (IOException e) {
            closeQuietly(in);
            throw new UncheckedIOException("cannot read the header of " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(in);
            throw e;
        }
    }

    public Path path() {
        return file;
    }

    /** Every tensor, ordered by name. */
    public SortedMap<String, TensorInfo> tensors() {
        return header.tensors;
    }

    /** The header's {@code __metadata__} (empty if it has none). */
    public Map<String, String> metadata() {
        return header.metadata;
    }

    public boolean contains(String name) {
        return header.tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = header.tensors.get(name);
        if (t == null) {
            throw SafetensorsHeader.problem(file, name, "no such tensor in this file (" + header.tensors.size() + " tensors)");
        }
        return t;
    }

    /** The tensor's values as floats: F16/BF16 widened exactly, F64 and large integers rounded to nearest. */
    public float[] readFloat(String name) {
        TensorInfo t = info(name);
        float[] values = new float[arrayLength(t, t.numel(), "elements")];
        readFloat(name, 0, FloatBuffer.wrap(values));
        return values;
    }

    /**
     * Elements {@code first} to {@code first + into.capacity() - 1} of the tensor as floats, as {@link
     * #readFloat(String)}, decoded straight into {@code into} from index 0 (whatever its position): a direct buffer
     * that becomes a native tensor needs no Java array between, and a tensor larger than one buffer is read in pieces.
     */
    public void readFloat(String name, long first, FloatBuffer into) {
        TensorInfo t = info(name);
        if (first < 0 || into.capacity() > t.numel() - first) {
            throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' has " + t.numel()
                    + " elements, asked for " + into.capacity() + " from element " + first);
        }
        readChunks(t, first, into.capacity(),
                (chunk, at, count) -> ElementCodec.decode(t.dtype(), chunk, into, at, count));
    }

    /** The tensor's values as doubles: exact for every type but I64 beyond 2^53. */
    public double[] readDouble(String name) {
        TensorInfo t = info(name);
        double[] values = new double[arrayLength(t, t.numel(), "elements")];
        readChunks(t, 0, values.length, (chunk, at, count) -> ElementCodec.decode(t.dtype(), chunk, values, at, count));
        return values;
    }

    /** The tensor's bytes exactly as stored (little-endian). */
    public byte[] readRaw(String name) {
        TensorInfo t = info(name);
        byte[] bytes = new byte[arrayLength(t, t.byteSize(), "bytes")];
        readFully(t, dataStart + t.begin(), bytes, bytes.length);
        return bytes;
    }

    /**
     * The index of the first NaN or infinite value among {@code count} elements from element {@code first} of a
     * floating-point tensor, or -1 when they are all finite. Reads in bounded chunks, so even a full scan of a
     * tensor larger than a Java array needs no tensor-sized buffer.
     */
    public long firstNonFinite(String name, long first, long count) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloatingPoint()) {
            throw SafetensorsHeader.problem(file, name, "dtype " + t.dtype() + " is not floating point");
        }
        long end = Math.min(t.numel(), first + Math.max(count, 0));
        if (first < 0 || first >= end) {
            return -1;
        }
        int elementSize = t.dtype().byteSize();
        int elementsPerChunk = (int) Math.min(READ_CHUNK_BYTES / elementSize, end - first);
        byte[] bytes = new byte[elementsPerChunk * elementSize];
        double[] values = new double[elementsPerChunk];
        ByteBuffer chunk = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (long from = first; from < end; from += elementsPerChunk) {
            int n = (int) Math.min(elementsPerChunk, end - from);
            readFully(t, dataStart + t.begin() + from * elementSize, bytes, n * elementSize);
            chunk.clear();
            ElementCodec.decode(t.dtype(), chunk, values, 0, n);
            for (int i = 0; i < n; i++) {
                if (!Double.isFinite(values[i])) {
                    return from + i;
                }
            }
        }
        return -1;
    }

    private int arrayLength(TensorInfo t, long length, String unit) {
        if (length > MAX_ARRAY_LENGTH) {
            throw SafetensorsHeader.problem(file, t.name(), "has " + length + " " + unit + ", more than one Java array holds ("
                    + MAX_ARRAY_LENGTH + ")");
        }
        return (int) length;
    }

    @FunctionalInterface
    private interface ChunkDecoder {
        void decode(ByteBuffer chunk, int firstElement, int count);
    }

    /**
     * Reads {@code count} elements from element {@code first} in bounded chunks, so widening a tensor never needs a
     * second full-size buffer; the decoder's indices count from {@code first}.
     */
    private void readChunks(TensorInfo t, long first, int count, ChunkDecoder decoder) {
        int elementSize = t.dtype().byteSize();
        int elementsPerChunk = READ_CHUNK_BYTES / elementSize;
        byte[] bytes = new byte[(int) Math.min(READ_CHUNK_BYTES, (long) count * elementSize)];
        ByteBuffer chunk = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < count; done += elementsPerChunk) {
            int n = Math.min(elementsPerChunk, count - done);
            readFully(t, dataStart + t.begin() + (first + done) * elementSize, bytes, n * elementSize);
            chunk.clear();
            decoder.decode(chunk, done, n);
        }
    }

    private void readFully(TensorInfo t, long position, byte[] bytes, int length) {
        try {
            in.readFully(position, bytes, 0, length);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read tensor '" + t.name() + "': " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + file, e);
        }
    }

    private static void closeQuietly(FSDataInputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // already failing with a more useful error
        }
    }
}
