package dev.spruce.model.safetensors;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * Converts between little-endian safetensors elements and Java float/double values. Buffers must be in
 * little-endian order; each call reads or writes {@code count} elements at the buffer's position.
 */
final class ElementCodec {
    private ElementCodec() {}

    /** Decodes into {@code dst} from index {@code offset} (absolute puts: its position is not used). */
    static void decode(DType type, ByteBuffer src, FloatBuffer dst, int offset, int count) {
        if (type == DType.F32) {
            dst.put(offset, src.asFloatBuffer(), 0, count);
            src.position(src.position() + count * Float.BYTES);
            return;
        }
        for (int i = 0; i < count; i++) {
            // a long goes to float directly: through double it would be rounded twice
            dst.put(offset + i, type == DType.I64 ? (float) src.getLong() : (float) get(type, src));
        }
    }

    static void decode(DType type, ByteBuffer src, double[] dst, int offset, int count) {
        for (int i = 0; i < count; i++) {
            dst[offset + i] = get(type, src);
        }
    }

    /** Every element value except a large I64 is a double exactly. */
    private static double get(DType type, ByteBuffer src) {
        return switch (type) {
            case F64 -> src.getDouble();
            case F32 -> src.getFloat();
            case F16 -> HalfPrecision.f16ToFloat(src.getShort());
            case BF16 -> HalfPrecision.bf16ToFloat(src.getShort());
            case I64 -> src.getLong();
            case I32 -> src.getInt();
            case I16 -> src.getShort();
            case I8 -> src.get();
            case U8 -> src.get() & 0xff;
            case BOOL -> src.get() != 0 ? 1 : 0;
        };
    }

    static void encode(DType type, float[] src, int offset, int count, ByteBuffer dst) {
        if (type == DType.F32) {
            dst.asFloatBuffer().put(src, offset, count);
            dst.position(dst.position() + count * Float.BYTES);
            return;
        }
        for (int i = 0; i < count; i++) {
            put(type, dst, src[offset + i], offset + i);
        }
    }

    static void encode(DType type, double[] src, int offset, int count, ByteBuffer dst) {
        for (int i = 0; i < count; i++) {
            put(type, dst, src[offset + i], offset + i);
        }
    }

    /**
     * Floating types round to nearest even; integer types take only integral values in range (a silent
     * truncation of 0.5 to 0 would corrupt ids and masks without a trace).
     */
    private static void put(DType type, ByteBuffer dst, double value, int index) {
        switch (type) {
            case F64 -> dst.putDouble(value);
            case F32 -> dst.putFloat((float) value);
            case F16 -> dst.putShort(HalfPrecision.doubleToF16(value));
            case BF16 -> dst.putShort(HalfPrecision.doubleToBf16(value));
            case I64 -> dst.putLong((long) integral(type, value, -0x1p63, 0x1p63 - 1024, index));
            case I32 -> dst.putInt((int) integral(type, value, Integer.MIN_VALUE, Integer.MAX_VALUE, index));
            case I16 -> dst.putShort((short) integral(type, value, Short.MIN_VALUE, Short.MAX_VALUE, index));
            case I8 -> dst.put((byte) integral(type, value, Byte.MIN_VALUE, Byte.MAX_VALUE, index));
            case U8 -> dst.put((byte) integral(type, value, 0, 255, index));
            case BOOL -> dst.put((byte) integral(type, value, 0, 1, index));
        }
    }

    private static double integral(DType type, double value, double min, double max, int index) {
        if (value != Math.rint(value) || value < min || value > max) {
            throw new IllegalArgumentException("element " + index + " is " + value + ", not representable as " + type);
        }
        return value;
    }
}
