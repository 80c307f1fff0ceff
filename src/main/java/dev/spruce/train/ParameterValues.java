package dev.spruce.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.spruce.model.Djl;
import java.io.Serializable;

/**
 * Parameter values as tasks receive them, in {@link Trainable#shapes()} order: float64, or float32 for
 * {@link Traffic#FLOAT32}. A plain class, not a record: Kryo moves it inside the broadcast.
 */
final class ParameterValues implements Serializable {
    private static final long serialVersionUID = 1L;

    private final double[][] wide;
    private final float[][] narrow;

    private ParameterValues(double[][] wide, float[][] narrow) {
        this.wide = wide;
        this.narrow = narrow;
    }

    /** Float64 values, shared (not copied). */
    static ParameterValues of(double[][] values) {
        return new ParameterValues(values, null);
    }

    /** The values in the precision of {@code traffic}: float64 shared, float32 rounded to nearest. */
    static ParameterValues of(double[][] values, Traffic traffic) {
        return traffic == Traffic.FLOAT64 ? of(values) : new ParameterValues(null, FloatArrays.narrow(values));
    }

    int count() {
        return wide != null ? wide.length : narrow.length;
    }

    int length(int p) {
        return wide != null ? wide[p].length : narrow[p].length;
    }

    Traffic traffic() {
        return wide != null ? Traffic.FLOAT64 : Traffic.FLOAT32;
    }

    /** Parameter {@code p} as an array of the model's compute type on {@code manager}. */
    NDArray array(NDManager manager, int p, Shape shape, DataType type) {
        return wide != null ? Djl.fromDoubles(manager, wide[p], shape, type)
                : Djl.fromFloats(manager, narrow[p], shape, type);
    }
}
