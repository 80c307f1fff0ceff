package dev.spruce.model.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Multiplies the stored elements of a row-major tensor by per-row and per-column factors, in place on its
 * little-endian bytes: each element is decoded from its dtype, multiplied in double and re-encoded in the same
 * dtype (round to nearest even), so a factor of exactly 1 everywhere leaves every byte as it was.
 */
public final class ElementScaling {
    private ElementScaling() {}

    /**
     * Element (r, c) of a tensor of {@code shape} ([rows] or [rows, columns]) becomes
     * {@code value * rowFactors[r] * columnFactors[c]}; null factors are 1.
     */
    public static void multiply(DType type, byte[] data, long[] shape, double[] rowFactors, double[] columnFactors) {
        if (!type.isFloatingPoint()) {
            throw new IllegalArgumentException("can scale floating-point tensors only (F64, F32, F16, BF16), got "
                    + type);
        }
        if (shape.length != 1 && shape.length != 2) {
            throw new IllegalArgumentException("can scale tensors of 1 or 2 dimensions, got shape "
                    + Arrays.toString(shape));
        }
        int rows = Math.toIntExact(shape[0]);
        int columns = shape.length == 2 ? Math.toIntExact(shape[1]) : 1;
        if ((long) rows * columns * type.byteSize() != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + type + " needs "
                    + (long) rows * columns * type.byteSize() + " bytes, got " + data.length);
        }
        requireLength(rowFactors, rows, "row");
        if (columnFactors != null && shape.length == 1) {
            throw new IllegalArgumentException("a tensor of shape " + Arrays.toString(shape) + " has no columns");
        }
        requireLength(columnFactors, columns, "column");
        ByteBuffer in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        double[] row = new double[columns];
        for (int r = 0; r < rows; r++) {
            double rowFactor = rowFactors == null ? 1 : rowFactors[r];
            ElementCodec.decode(type, in, row, 0, columns);
            for (int c = 0; c < columns; c++) {
                row[c] = row[c] * rowFactor * (columnFactors == null ? 1 : columnFactors[c]);
            }
            ElementCodec.encode(type, row, 0, columns, out);
        }
    }

    private static void requireLength(double[] factors, int n, String what) {
        if (factors == null) {
            return;
        }
        if (factors.length != n) {
            throw new IllegalArgumentException(factors.length + " " + what + " factors for " + n + " " + what + "s");
        }
        for (int i = 0; i < n; i++) {
            if (!Double.isFinite(factors[i])) {
                throw new IllegalArgumentException(what + " factor " + i + " is " + factors[i] + "; factors must be "
                        + "finite");
            }
        }
    }
}
