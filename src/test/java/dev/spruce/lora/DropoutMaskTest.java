package dev.spruce.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.spruce.model.Djl;
import org.junit.jupiter.api.Test;

/** The counter-based LoRA dropout hash on the device against plain Java long arithmetic, and its statistics. */
class DropoutMaskTest {
    private static final String Q = "model.layers.0.self_attn.q_proj.weight";
    private static final String K = "model.layers.0.self_attn.k_proj.weight";

    /** SplitMix64's finaliser, written out again here. */
    private static long splitMix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The documented formula in plain Java: keys from the row seed and module, three affine + x^5 rounds. */
    private static long expected(long rowSeed, String module, long position) {
        long p = (1L << 31) - 1;
        long[] c = {1_103_515_245L, 2_011_634_533L, 1_597_334_677L};
        long z = splitMix(rowSeed ^ splitMix(module.hashCode()));
        long x = position;
        for (int j = 0; j < 3; j++) {
            long k = Math.floorMod(splitMix(z + j + 1), p);
            long y = (x * c[j] + k) % p;
            long y5 = 1;
            for (int e = 0; e < 5; e++) {
                y5 = y5 * y % p;
            }
            x = y5;
        }
        return x;
    }

    private static NDArray keys(NDManager m, long[] rowSeeds, String module) {
        long[] k = new long[rowSeeds.length * 3];
        for (int r = 0; r < rowSeeds.length; r++) {
            System.arraycopy(DropoutMask.keys(rowSeeds[r], module), 0, k, 3 * r, 3);
        }
        return m.create(k, new Shape(rowSeeds.length, 3));
    }

    /** Keep indicators (1 kept, 0 dropped) of {@code n} positions of one row. */
    private static double[] kept(NDManager m, long rowSeed, String module, int n, double dropout) {
        NDArray mask = new DropoutMask(m, dropout, DataType.FLOAT64)
                .of(keys(m, new long[] {rowSeed}, module), new Shape(1, n / 512, 512));
        double[] v = mask.toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = v[i] == 0 ? 0 : 1;
        }
        return v;
    }

    private static double correlation(double[] a, double[] b) {
        double ma = 0;
        double mb = 0;
        for (int i = 0; i < a.length; i++) {
            ma += a[i];
            mb += b[i];
        }
        ma /= a.length;
        mb /= b.length;
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (a[i] - ma) * (b[i] - mb);
            aa += (a[i] - ma) * (a[i] - ma);
            bb += (b[i] - mb) * (b[i] - mb);
        }
        return ab / Math.sqrt(aa * bb);
    }

    @Test
    void deviceHashEqualsAPlainJavaLongComputation() {
        long[] seeds = {0, 11, -5_000_000_000L, Long.MAX_VALUE};
        int middle = 37;
        int last = 29;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            for (String module : new String[] {Q, K}) {
                long[] actual = new DropoutMask(m, 0.1, DataType.FLOAT32).hash(keys(m, seeds, module), middle, last)
                        .toLongArray();
                long[] want = new long[actual.length];
                for (int r = 0; r < seeds.length; r++) {
                    for (int i = 0; i < middle * last; i++) {
                        want[r * middle * last + i] = expected(seeds[r], module, i);
                    }
                }
                assertArrayEquals(want, actual, module);
                for (int r = 0; r < seeds.length; r++) {
                    long[] k = DropoutMask.keys(seeds[r], module);
                    for (int i = 0; i < middle * last; i++) {
                        assertEquals(want[r * middle * last + i], DropoutMask.hash(i, k), "host hash");
                    }
                }
            }
            // Positions near the top of the counter range stay exact (products up to 2^62).
            long[] high = new DropoutMask(m, 0.1, DataType.FLOAT32).hash(keys(m, new long[] {3}, Q), 4096, 2048)
                    .toLongArray();
            for (int i : new int[] {0, 1, 8_388_607, 6_345_678}) {
                assertEquals(expected(3, Q, i), high[i], "position " + i);
            }
        }
    }

    @Test
    void theHostMaskEqualsTheDeviceMaskInEveryType() {
        long[] seeds = {5, -6, 7};
        // rows shorter than the host's pass, and rows of several passes with a partial last one
        for (Shape shape : new Shape[] {new Shape(3, 11, 17), new Shape(3, 3, 1500)}) {
            try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
                for (DataType type : new DataType[] {DataType.FLOAT64, DataType.FLOAT32, DataType.FLOAT16}) {
                    double[] device = Djl.toDoubles(new DropoutMask(m, 0.3, type).of(keys(m, seeds, K), shape));
                    NDArray host = DropoutMask.onHost(m, seeds, K, shape, 0.3, type);
                    assertEquals(type, host.getDataType());
                    assertArrayEquals(device, Djl.toDoubles(host), 0.0, type + " " + shape);
                }
            }
        }
        // and against the plain formula, position by position, across pass boundaries
        double[] host;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            host = Djl.toDoubles(DropoutMask.onHost(m, new long[] {9}, Q, new Shape(1, 2, 1500), 0.3,
                    DataType.FLOAT64));
        }
        long threshold = (long) Math.ceil(0.3 * ((1L << 31) - 1));
        for (int i = 0; i < host.length; i++) {
            assertEquals(expected(9, Q, i) >= threshold ? 1 / 0.7 : 0, host[i], 0.0, "position " + i);
        }
    }

    @Test
    void theHostMaskOfLongRowsFollowsTheFormulaAtEveryChunkBoundaryOfEveryRow() {
        long[] seeds = {21, -22};
        Shape shape = new Shape(2, 3, 50_000); // 150,000 positions a row: 147 chunks, the last one partial
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            float[] mask = DropoutMask.onHost(m, seeds, Q, shape, 0.1, DataType.FLOAT32).toFloatArray();
            assertEquals(300_000, mask.length);
            long threshold = (long) Math.ceil(0.1 * ((1L << 31) - 1));
            int kept = 0;
            for (int r = 0; r < 2; r++) {
                for (int i : new int[] {0, 1, 1_023, 1_024, 1_025, 65_535, 65_536, 148_479, 148_480, 149_999}) {
                    assertEquals(expected(seeds[r], Q, i) >= threshold ? (float) (1 / 0.9) : 0f,
                            mask[r * 150_000 + i], "row " + r + " position " + i);
                }
            }
            for (float v : mask) {
                kept += v != 0 ? 1 : 0;
            }
            // 300,000 draws kept with probability 0.9: sd 164, so six sd either side
            assertEquals(270_000, kept, 1_000);
        }
    }

    @Test
    void maskValuesAreZeroOrTheInverseKeepProbabilityAndTheFractionIsBinomial() {
        int n = 1 << 20;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            for (double p : new double[] {0.05, 0.1, 0.5}) {
                double[] mask = new DropoutMask(m, p, DataType.FLOAT64)
                        .of(keys(m, new long[] {1, 2, 3, 4}, Q), new Shape(4, n / 4 / 1024, 1024)).toDoubleArray();
                long keptCount = 0;
                for (double v : mask) {
                    assertTrue(v == 0 || v == 1 / (1 - p), "mask value " + v);
                    keptCount += v == 0 ? 0 : 1;
                }
                double q = 1 - p;
                double sigma = Math.sqrt(n * q * (1 - q));
                assertTrue(Math.abs(keptCount - n * q) <= 5 * sigma, "p=" + p + ": kept " + keptCount + " of " + n
                        + ", expected " + n * q + " +- " + 5 * sigma);
            }
        }
    }

    @Test
    void masksOfOtherModulesRowsStepsAndNeighbouringPositionsAreUncorrelated() {
        int n = 1 << 18;
        double bound = 5 / Math.sqrt(n);
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            double[] base = kept(m, 1000, Q, n, 0.3);
            // Neighbouring seeds are the hardest case for a weak mix; the trainer's seeds differ in many bits.
            double[] otherModule = kept(m, 1000, K, n, 0.3);
            double[] otherRow = kept(m, 1001, Q, n, 0.3);
            double[] otherLayer = kept(m, 1000, "model.layers.1.self_attn.q_proj.weight", n, 0.3);
            assertTrue(Math.abs(correlation(base, otherModule)) <= bound, "modules " + correlation(base, otherModule));
            assertTrue(Math.abs(correlation(base, otherRow)) <= bound, "rows " + correlation(base, otherRow));
            assertTrue(Math.abs(correlation(base, otherLayer)) <= bound, "layers " + correlation(base, otherLayer));
            double[] shifted = new double[n - 1];
            double[] head = new double[n - 1];
            for (int i = 0; i < n - 1; i++) {
                head[i] = base[i];
                shifted[i] = base[i + 1];
            }
            assertTrue(Math.abs(correlation(head, shifted)) <= bound, "neighbours " + correlation(head, shifted));
            // The row seeds of one sample at two steps (GradientStep.rowSeed mixes the step in) are other seeds.
            double[] nextStep = kept(m, 1000 ^ (1L << 40), Q, n, 0.3);
            assertTrue(Math.abs(correlation(base, nextStep)) <= bound, "steps " + correlation(base, nextStep));
        }
    }

    @Test
    void theMersenneFoldEqualsFloorModOnEveryRangeTheHashUses() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        long[] edges = {0, 1, DropoutMask.P - 1, DropoutMask.P, DropoutMask.P + 1, 2 * DropoutMask.P,
                (DropoutMask.P - 1) * (DropoutMask.P - 1), (DropoutMask.P - 1) * DropoutMask.C[0] + DropoutMask.P - 1,
                Long.MAX_VALUE};
        for (long v : edges) {
            assertEquals(Math.floorMod(v, DropoutMask.P), DropoutMask.modP(v), "v = " + v);
        }
        for (int i = 0; i < 1_000_000; i++) {
            long v = random.nextLong(Long.MAX_VALUE);
            assertEquals(Math.floorMod(v, DropoutMask.P), DropoutMask.modP(v), "v = " + v);
        }
    }
}
