package dev.spruce.model;

import java.util.Map;

/** Where model weights come from: safetensors files, or host arrays in tests and tools. */
public interface WeightSource {
    boolean contains(String name);

    /** The tensor's shape, as stored. */
    long[] shape(String name);

    float[] readFloat(String name);

    /**
     * Elements {@code first} to {@code first + into.capacity() - 1} of the tensor's {@link #readFloat} values,
     * written into {@code into} from index 0. Sources that can decode in place (safetensors files) skip the Java
     * array and read only that range.
     */
    default void readFloat(String name, long first, java.nio.FloatBuffer into) {
        into.put(0, readFloat(name), Math.toIntExact(first), into.capacity());
    }

    double[] readDouble(String name);

    /** Host float64 weights with shapes taken from {@link TensorNames#expectedShapes}. */
    static WeightSource of(LlamaConfig config, Map<String, double[]> weights) {
        Map<String, long[]> shapes = TensorNames.expectedShapes(config);
        return new WeightSource() {
            @Override
            public boolean contains(String name) {
                return weights.containsKey(name);
            }

            @Override
            public long[] shape(String name) {
                return shapes.get(name);
            }

            @Override
            public float[] readFloat(String name) {
                return narrow(weights.get(name));
            }

            @Override
            public double[] readDouble(String name) {
                return weights.get(name);
            }
        };
    }

    /**
     * Tensors computed on demand, one at a time (random weights, merged adapters): {@code shapes} names them,
     * {@code values} produces each as float64.
     */
    static WeightSource computed(Map<String, long[]> shapes, java.util.function.Function<String, double[]> values) {
        return new WeightSource() {
            @Override
            public boolean contains(String name) {
                return shapes.containsKey(name);
            }

            @Override
            public long[] shape(String name) {
                return shapes.get(name);
            }

            @Override
            public float[] readFloat(String name) {
                return narrow(readDouble(name));
            }

            @Override
            public double[] readDouble(String name) {
                if (!shapes.containsKey(name)) {
                    throw new IllegalArgumentException("no tensor '" + name + "'");
                }
                return values.apply(name);
            }
        };
    }

    /** float64 to float32, element by element. */
    static float[] narrow(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** float32 to float64, element by element (exact). */
    static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
