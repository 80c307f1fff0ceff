package dev.spruce.train;

/** Float32 and float64 copies of parameter-shaped arrays, and float64 sums of either. */
final class FloatArrays {
    private FloatArrays() {}

    /** Each value rounded to the nearest float32. */
    static float[][] narrow(double[][] values) {
        float[][] out = new float[values.length][];
        for (int p = 0; p < values.length; p++) {
            double[] v = values[p];
            float[] f = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                f[i] = (float) v[i];
            }
            out[p] = f;
        }
        return out;
    }

    /** Exact float64 copies. */
    static double[][] widen(float[][] values) {
        double[][] out = new double[values.length][];
        for (int p = 0; p < values.length; p++) {
            float[] f = values[p];
            double[] v = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                v[i] = f[i];
            }
            out[p] = v;
        }
        return out;
    }

    static void addInto(double[][] sum, double[][] add) {
        checkShapes(sum.length, add.length);
        for (int p = 0; p < sum.length; p++) {
            double[] s = sum[p];
            double[] a = add[p];
            checkShapes(s.length, a.length);
            for (int i = 0; i < s.length; i++) {
                s[i] += a[i];
            }
        }
    }

    static void addInto(double[][] sum, float[][] add) {
        checkShapes(sum.length, add.length);
        for (int p = 0; p < sum.length; p++) {
            double[] s = sum[p];
            float[] a = add[p];
            checkShapes(s.length, a.length);
            for (int i = 0; i < s.length; i++) {
                s[i] += a[i];
            }
        }
    }

    private static void checkShapes(int expected, int actual) {
        if (expected != actual) {
            throw new IllegalStateException("partial sums of different shapes: " + expected + " and " + actual
                    + " elements");
        }
    }
}
