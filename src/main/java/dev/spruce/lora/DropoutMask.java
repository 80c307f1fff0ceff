package dev.spruce.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.spruce.model.Djl;
import java.nio.ByteBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRA dropout masks computed on the device by a counter-based hash, so that a mask element is a pure function
 * of (row seed, module, position in the row): the same on CPU and GPU, in any micro-batch and on any
 * partitioning. The row seed already mixes (seed, sample, step) ({@code GradientStep.rowSeed}).
 *
 * <p>The hash, over the prime P = 2^31 - 1 with int64 arithmetic only (every product of two residues is below
 * 2^62, so nothing overflows or rounds):
 * <pre>
 *   z   = mix(rowSeed ^ mix(weightName.hashCode()))        host, SplitMix64 finaliser mix
 *   k_j = floorMod(mix(z + j), P), j = 1, 2, 3             host, three keys per (row, module)
 *   x   = i                                                device, i = position in the row, 0 <= i < P
 *   x   = ((x * C_j + k_j) mod P)^5 mod P, j = 1, 2, 3     device; x^5 permutes Z_P as gcd(5, P-1) = 1
 *   keep = x >= ceil(p * P)                                device, integer comparison
 * </pre>
 * Each round is a bijection of Z_P, so a row's values are distinct; keep has probability (P - ceil(pP)) / P.
 */
public final class DropoutMask {
    /** The Mersenne prime 2^31 - 1. */
    public static final long P = 2_147_483_647L;
    /** Round multipliers, nonzero residues mod P. */
    static final long[] C = {1_103_515_245L, 2_011_634_533L, 1_597_334_677L};
    /** Keys per (row, module). */
    static final int KEYS = C.length;

    private final NDManager step;
    private final DataType type;
    private final NDArray prime;
    private final NDArray[] multipliers = new NDArray[KEYS];
    private final NDArray threshold;
    private final NDArray scale;
    private final Map<List<Long>, NDArray> positions = new HashMap<>();

    /**
     * Masks of {@code dropout} in {@code type} on {@code step}. The constants are made here, once per step: each
     * scalar made is a host-to-device copy that waits for the device.
     */
    public DropoutMask(NDManager step, double dropout, DataType type) {
        this.step = step;
        this.type = type;
        this.prime = step.create(P);
        for (int j = 0; j < KEYS; j++) {
            multipliers[j] = step.create(C[j]);
        }
        this.threshold = step.create(threshold(dropout));
        // As the Java mask had it: 1/(1-p) in float64, narrowed to the compute type.
        this.scale = Djl.scalar(step, 1 / (1 - dropout), type);
    }

    /** SplitMix64's finaliser: a bijection of 64-bit values whose output bits each depend on every input bit. */
    static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The keys k_1..k_3 of one row and module, each in [0, P). */
    public static long[] keys(long rowSeed, String weightName) {
        long z = mix(rowSeed ^ mix(weightName.hashCode()));
        long[] k = new long[KEYS];
        for (int j = 0; j < KEYS; j++) {
            k[j] = Math.floorMod(mix(z + j + 1), P);
        }
        return k;
    }

    /**
     * The hash of one position in plain Java, the formula {@link #hash} computes on the device, with the
     * remainders by the Mersenne prime taken as shifts and adds ({@link #modP}), so on a CPU device it is many
     * times faster than libtorch's int64 remainder (a division per element) and gives the same values.
     */
    public static long hash(long position, long[] keys) {
        long x = position;
        for (int j = 0; j < KEYS; j++) {
            long y = modP(x * C[j] + keys[j]);
            long y2 = modP(y * y);
            long y4 = modP(y2 * y2);
            x = modP(y4 * y);
        }
        return x;
    }

    /**
     * {@code v mod P} for 0 <= v < 2^63, exactly: 2^31 = 1 (mod P), so the high bits fold onto the low ones. After
     * two folds r <= P + 3, so the last step subtracts P exactly when r + 1 reaches 2^31; written without a branch
     * so that the loops of {@link #hashRange} vectorize.
     */
    static long modP(long v) {
        long r = (v & P) + (v >>> 31);
        r = (r & P) + (r >>> 31);
        return r - (P & -((r + 1) >>> 31));
    }

    /** Positions per pass of the host mask: a few long[] buffers of this length stay in the L1 cache. */
    static final int CHUNK = 1024;
    private static final long[] IOTA = new long[CHUNK];

    static {
        for (int i = 0; i < CHUNK; i++) {
            IOTA[i] = i;
        }
    }

    /**
     * {@link #hash} of the positions from, ..., from + len - 1 (len <= {@link #CHUNK}) into x, with y as scratch.
     * Each modular product is its own short loop: C2 unrolls and vectorizes loops that short, while a loop holding
     * a whole round is too long to unroll and runs one element at a time, about four times slower.
     */
    static void hashRange(long from, int len, long[] keys, long[] x, long[] y) {
        for (int c = 0; c < len; c++) {
            x[c] = IOTA[c] + from;
        }
        for (int j = 0; j < KEYS; j++) {
            long cj = C[j];
            long kj = keys[j];
            for (int c = 0; c < len; c++) {
                y[c] = modP(x[c] * cj + kj);
            }
            for (int c = 0; c < len; c++) {
                x[c] = modP(y[c] * y[c]);
            }
            for (int c = 0; c < len; c++) {
                x[c] = modP(x[c] * x[c]);
            }
            for (int c = 0; c < len; c++) {
                x[c] = modP(x[c] * y[c]);
            }
        }
    }

    /**
     * The mask of {@link #of} computed on the host, for CPU devices (where a host array is device memory): the
     * same values, as 1/(1-p) narrowed to {@code type} or 0, for rows with these row seeds.
     */
    public static NDArray onHost(NDManager step, long[] rowSeeds, String weightName, Shape input, double dropout,
                                 DataType type) {
        int rows = Math.toIntExact(input.get(0));
        int perRow = Math.toIntExact(input.size() / rows);
        if (perRow >= P) {
            throw new IllegalArgumentException("LoRA dropout: a row of " + perRow + " inputs is too long for the "
                    + "counter-based mask (at most 2^31 - 2)");
        }
        long belowKept = threshold(dropout) - 1;
        double scale = 1 / (1 - dropout);
        boolean wide = type == DataType.FLOAT64;
        // Written straight into the direct buffer the array will wrap: no Java array of the mask's size, no copy.
        ByteBuffer buffer = step.allocateDirect(Math.multiplyExact(Math.multiplyExact(rows, perRow), wide ? 8 : 4));
        LongBuffer wideOut = wide ? buffer.asLongBuffer() : null;
        IntBuffer narrowOut = wide ? null : buffer.asIntBuffer();
        // A kept element holds the bits of 1/(1-p) (narrowed once to float32 unless the model is float64, as
        // fromDoubles would), a dropped one +0.0: the bits ANDed with an all-ones or all-zeros lane. Integer lanes
        // only, so C2 vectorizes the loop; a long-to-float conversion per element would not.
        long wideBits = Double.doubleToRawLongBits(scale);
        int narrowBits = Float.floatToRawIntBits((float) scale);
        // On the task thread alone. Drawn on helper threads, the mask competed for the cores with libtorch's own
        // intra-op workers (still spinning after each op) and a two-thread LoRA step got slower, not faster.
        long[] x = new long[CHUNK];
        long[] y = new long[CHUNK];
        long[] wideChunk = wide ? new long[CHUNK] : null;
        int[] narrowChunk = wide ? null : new int[CHUNK];
        for (int r = 0; r < rows; r++) {
            long[] keys = keys(rowSeeds[r], weightName);
            for (int from = 0; from < perRow; from += CHUNK) {
                int len = Math.min(CHUNK, perRow - from);
                hashRange(from, len, keys, x, y);
                int at = r * perRow + from;
                // kept (hash >= threshold) is the sign of belowKept - hash, both in [-1, P): >> 63 spreads it
                if (wide) {
                    for (int c = 0; c < len; c++) {
                        wideChunk[c] = wideBits & ((belowKept - x[c]) >> 63);
                    }
                    wideOut.put(at, wideChunk, 0, len);
                } else {
                    for (int c = 0; c < len; c++) {
                        narrowChunk[c] = narrowBits & (int) ((belowKept - x[c]) >> 63);
                    }
                    narrowOut.put(at, narrowChunk, 0, len);
                }
            }
        }
        NDArray mask = step.create(buffer, input, wide ? DataType.FLOAT64 : DataType.FLOAT32);
        if (wide || type == DataType.FLOAT32) {
            return mask;
        }
        NDArray narrowed = mask.toType(type, false);
        mask.close();
        return narrowed;
    }

    /** The smallest hash value that keeps an element: ceil(p * P). */
    public static long threshold(double dropout) {
        return (long) Math.ceil(dropout * P);
    }

    /**
     * The hash values [rows, perRow] (int64) on the device for the given keys ([rows, 3] int64), positions
     * 0..perRow-1 of each row laid out as [middle, last].
     */
    public NDArray hash(NDArray keys, long middle, long last) {
        long perRow = Math.multiplyExact(middle, last);
        if (perRow >= P || middle >= (1 << 24) || last >= (1 << 24)) {
            // arange takes float bounds in DJL; below 2^24 they are exact.
            throw new IllegalArgumentException("LoRA dropout: a row of " + middle + " x " + last + " inputs is "
                    + "too long for the counter-based mask (at most 2^24 - 1 per axis and 2^31 - 2 per row)");
        }
        NDArray position = positions.computeIfAbsent(List.of(middle, last), k ->
                step.arange(0, (int) middle, 1, DataType.INT64).reshape(middle, 1).mul(step.create(last))
                        .add(step.arange(0, (int) last, 1, DataType.INT64).reshape(1, last)).reshape(1, perRow));
        long rows = keys.getShape().get(0);
        NDArray x = position;
        for (int j = 0; j < KEYS; j++) {
            NDArray k = keys.get(":, " + j).reshape(rows, 1);
            NDArray y = x.mul(multipliers[j]).add(k).mod(prime);
            NDArray y2 = y.mul(y).mod(prime);
            NDArray y4 = y2.mul(y2).mod(prime);
            x = y4.mul(y).mod(prime);
        }
        return x;
    }

    /**
     * The inverted-dropout mask of an input of shape [rows, ..., in] in the mask's type: 1/(1-p) where kept,
     * else 0.
     *
     * @param keys [rows, 3] int64 keys of the rows for this module, see {@link #keys}
     */
    public NDArray of(NDArray keys, Shape input) {
        long rows = input.get(0);
        long last = input.get(input.dimension() - 1);
        long middle = input.size() / rows / last;
        return hash(keys, middle, last).gte(threshold).toType(type, false).mul(scale).reshape(input);
    }
}
