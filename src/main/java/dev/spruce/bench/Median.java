package dev.spruce.bench;

import java.util.Arrays;

/** The median the benchmarks report: robust to the slow outliers of a shared machine. */
final class Median {
    private Median() {}

    /** The middle value, or the mean of the two middle values; NaN for none. */
    static double of(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] v = values.clone();
        Arrays.sort(v);
        int h = v.length / 2;
        return v.length % 2 == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
    }
}
