package dev.spruce.importance;

import java.util.function.DoubleUnaryOperator;

/**
 * Element salience and member vectors of LLM-Pruner (llm-pruner.md §2.2-§2.4), split into a part that sums
 * exactly over any split of the calibration samples and a part applied once, after the sum.
 *
 * <p>Sample n has gradient gₙ of its own mean loss. The reference uses g = (1/N)·Σₙ gₙ (§2.2 item 6) and the Fisher
 * diagonal F = (1/N)·Σₙ gₙ⊙gₙ (§2.3). An executor accumulates G = Σₙ gₙ and Q = Σₙ gₙ⊙gₙ over its shard and ships
 * the signed, linear-in-(G, Q) {@link #partial partial sum} P. Since every P is linear in (G, Q), the sum of the
 * shards' P equals the P of one pass over all samples, and S = P/N is the reference's element salience:
 *
 * <table>
 *   <caption>partial sums and element salience</caption>
 *   <tr><th>criterion</th><th>partial P</th><th>S = P/N (§2.4)</th><th>member vector</th></tr>
 *   <tr><td>vectorize</td><td>Σ over the other axis of W⊙G</td><td>W⊙g</td><td>|Σ S|</td></tr>
 *   <tr><td>param_first</td><td>W⊙G</td><td>W⊙g</td><td>Σ|S|</td></tr>
 *   <tr><td>param_second</td><td>W⊙W⊙Q</td><td>W⊙F⊙W</td><td>Σ|S|</td></tr>
 *   <tr><td>param_mix</td><td>W⊙G − ½·W⊙W⊙Q</td><td>W⊙g − ½·W⊙F⊙W</td><td>Σ|S|</td></tr>
 *   <tr><td>l1</td><td>none</td><td>|W|</td><td>Σ S</td></tr>
 *   <tr><td>l2</td><td>none</td><td>W² (no root)</td><td>Σ S</td></tr>
 * </table>
 *
 * <p>"Σ over the other axis" is over columns for {@link Axis#ROW} members and over rows for {@link Axis#COLUMN}
 * members; {@link Axis#ENTRY} (RMSNorm in the hidden-channel group) reduces nothing. The {@code abs} must come after
 * the sum over samples, which is why executors ship signed P and never |P|. {@code random} has no member vectors
 * (see {@link GroupScorer}).
 *
 * <p>Tensors are row-major {@code [rows][cols]} (PyTorch {@code W[out][in]}); element (r, c) is at
 * {@code r*cols + c}. A 1-D tensor of length d is passed as rows 1, cols d.
 */
public final class Salience {
    private Salience() {}

    /**
     * What an executor ships for one member after accumulating its shard's G and Q.
     *
     * @param w      the weight, {@code rows*cols} values
     * @param gSum   G, the sum of the shard's per-sample gradients; may be null unless
     *               {@link Criterion#needsGradients()}
     * @param gSqSum Q, the sum of the shard's squared per-sample gradients; may be null unless
     *               {@link Criterion#needsSquaredGradients()}
     * @return for {@link Criterion#VECTORIZE} the {@code axis.length(rows, cols)} sums of W⊙G; for the other Taylor
     *         criteria the full {@code rows*cols} tensor; null for {@code random}, {@code l1} and {@code l2}
     */
    public static double[] partial(Criterion c, double[] w, double[] gSum, double[] gSqSum,
                                   int rows, int cols, Axis axis) {
        if (!c.isTaylor()) {
            return null;
        }
        String what = "partial(" + c.referenceName() + ")";
        checkLength(what, "w", w, rows, cols);
        if (c.needsGradients()) {
            checkLength(what, "gSum", gSum, rows, cols);
        }
        if (c.needsSquaredGradients()) {
            checkLength(what, "gSqSum", gSqSum, rows, cols);
        }
        int size = rows * cols;
        double[] p = new double[size];
        switch (c) {
            case VECTORIZE, PARAM_FIRST -> {
                for (int i = 0; i < size; i++) {
                    p[i] = w[i] * gSum[i];
                }
            }
            case PARAM_SECOND -> {
                for (int i = 0; i < size; i++) {
                    p[i] = w[i] * w[i] * gSqSum[i];
                }
            }
            case PARAM_MIX -> {
                for (int i = 0; i < size; i++) {
                    p[i] = w[i] * gSum[i] - 0.5 * w[i] * w[i] * gSqSum[i];
                }
            }
            default -> throw new IllegalStateException("not a Taylor criterion: " + c);
        }
        return c == Criterion.VECTORIZE ? sumOverOtherAxis(p, rows, cols, axis, DoubleUnaryOperator.identity()) : p;
    }

    /**
     * The member vector, one value per channel on {@code axis}, from the partials summed over every shard.
     *
     * @param summedPartial the sum of every shard's {@link #partial}; ignored (may be null) for {@code l1}/{@code l2}
     * @param w             the weight; needed only for {@code l1}/{@code l2} (may be null otherwise)
     * @param n             N, the number of calibration samples over all shards
     * @return {@code axis.length(rows, cols)} values, all >= 0
     */
    public static double[] memberVector(Criterion c, double[] summedPartial, double[] w, long n,
                                        int rows, int cols, Axis axis) {
        String what = "memberVector(" + c.referenceName() + ")";
        switch (c) {
            case RANDOM -> throw new IllegalArgumentException(
                    "random importance has no member vectors: it is drawn per root channel by GroupScorer");
            case L1 -> {
                checkLength(what, "w", w, rows, cols);
                return sumOverOtherAxis(w, rows, cols, axis, Math::abs);
            }
            case L2 -> {
                checkLength(what, "w", w, rows, cols);
                return sumOverOtherAxis(w, rows, cols, axis, x -> x * x);
            }
            default -> {
                if (n <= 0) {
                    throw new IllegalArgumentException(what + ": the number of calibration samples must be "
                            + "positive, got " + n);
                }
                double samples = n;
                if (c == Criterion.VECTORIZE) {
                    int length = axis.length(rows, cols);
                    if (summedPartial == null || summedPartial.length != length) {
                        throw new IllegalArgumentException(what + ": summedPartial has "
                                + (summedPartial == null ? "no" : summedPartial.length) + " values, expected "
                                + length + " (" + axis + " sums of a " + rows + "x" + cols + " tensor)");
                    }
                    double[] v = new double[length];
                    for (int i = 0; i < length; i++) {
                        v[i] = Math.abs(summedPartial[i] / samples);
                    }
                    return v;
                }
                checkLength(what, "summedPartial", summedPartial, rows, cols);
                return sumOverOtherAxis(summedPartial, rows, cols, axis, x -> Math.abs(x / samples));
            }
        }
    }

    /** For each channel on {@code axis}, the sum of {@code f} over the other axis. */
    private static double[] sumOverOtherAxis(double[] values, int rows, int cols, Axis axis, DoubleUnaryOperator f) {
        double[] out = new double[axis.length(rows, cols)];
        foldOverOtherAxis(out, values, 0, rows, cols, axis, f);
        return out;
    }

    /**
     * Adds rows {@code [firstRow, firstRow + rows)} of a {@code ? x cols} tensor, given as {@code values}, into the
     * per-channel sums {@code out}, in row order: folding a tensor's row blocks in order gives the same additions, in
     * the same order, as summing it whole.
     */
    static void foldOverOtherAxis(double[] out, double[] values, int firstRow, int rows, int cols, Axis axis,
                                  DoubleUnaryOperator f) {
        switch (axis) {
            case ROW -> {
                for (int r = 0; r < rows; r++) {
                    double s = 0;
                    for (int c = 0; c < cols; c++) {
                        s += f.applyAsDouble(values[r * cols + c]);
                    }
                    out[firstRow + r] = s;
                }
            }
            case COLUMN -> {
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        out[c] += f.applyAsDouble(values[r * cols + c]);
                    }
                }
            }
            case ENTRY -> {
                for (int i = 0; i < rows * cols; i++) {
                    out[firstRow * cols + i] = f.applyAsDouble(values[i]);
                }
            }
        }
    }

    private static void checkLength(String what, String name, double[] a, int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException(what + ": shape " + rows + "x" + cols + " must be positive");
        }
        if (a == null || a.length != (long) rows * cols) {
            throw new IllegalArgumentException(what + ": " + name + " has " + (a == null ? "no" : a.length)
                    + " values, expected rows*cols = " + rows + "*" + cols + " = " + (long) rows * cols);
        }
    }
}
