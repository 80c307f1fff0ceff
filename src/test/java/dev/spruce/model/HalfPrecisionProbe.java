package dev.spruce.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * Run in a forked JVM by {@link ComputePrecisionTest}: casts a float32 CPU array to the dtype named by the
 * argument with DJL's own {@code toType} (not {@code Djl.cast}, which refuses bfloat16 on the CPU), multiplies it
 * and prints the result. A libtorch abort kills the JVM, hence the fork.
 */
public final class HalfPrecisionProbe {
    private HalfPrecisionProbe() {}

    public static void main(String[] args) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray half = m.create(new float[] {1.5f, -2.25f}).toType(DataType.valueOf(args[0]), false);
            float[] back = half.mul(half).toType(DataType.FLOAT32, false).toFloatArray();
            System.out.println("ok " + back[0] + " " + back[1]);
        }
    }
}
