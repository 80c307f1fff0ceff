package dev.spruce.importance;

import java.io.Serializable;

/**
 * One shuffled block of a shard's partial sum. Float32 when the model computes in float32 or less (its gradients
 * carry no more precision, and the shuffle halves), float64 for float64 models so the exactness tests keep every
 * bit. The reduce side adds blocks into float64 sums either way.
 */
final class PartialBlock implements Serializable {
    private static final long serialVersionUID = 1L;

    private final double[] wide;
    private final float[] narrow;

    private PartialBlock(double[] wide, float[] narrow) {
        this.wide = wide;
        this.narrow = narrow;
    }

    /** The values as shipped: narrowed to float32 (round to nearest) when {@code narrow}. */
    static PartialBlock of(double[] values, boolean narrow) {
        if (!narrow) {
            return new PartialBlock(values, null);
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return new PartialBlock(null, f);
    }

    /** Values already rounded to float32 (on the device). */
    static PartialBlock of(float[] narrow) {
        return new PartialBlock(null, narrow);
    }

    int length() {
        return wide != null ? wide.length : narrow.length;
    }

    boolean isNarrow() {
        return narrow != null;
    }

    double get(int i) {
        return wide != null ? wide[i] : narrow[i];
    }

    /** A fresh float64 copy: the first term of a sum. */
    double[] toDoubles() {
        if (wide != null) {
            return wide.clone();
        }
        double[] d = new double[narrow.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = narrow[i];
        }
        return d;
    }

    /** {@code sum[i] += this[i]}. */
    void addInto(double[] sum) {
        if (wide != null) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += wide[i];
            }
        } else {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += narrow[i];
            }
        }
    }
}
