package dev.spruce.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The DJL safety layer: the one place that works around the verified DJL traps (docs/DESIGN.md).
 *
 * <ul>
 *   <li>P1: {@code NDArray.mul(Number)} and friends create a temporary scalar tensor that may be freed
 *       while autograd still needs it; after a GC the gradients are garbage. Differentiable code takes its
 *       scalars from {@link #scalar}, which lives on the step's manager until the step closes.</li>
 *   <li>P2: BF16 NDArrays abort the JVM on every device (DJL's JNI has no BF16 type); {@link #checkDataType}
 *       refuses them and the safetensors reader widens BF16 in Java.</li>
 *   <li>P3: a GradientCollector is one per JVM; concurrent Spark tasks use the thread-local
 *       {@link #gradScope} and {@link #backward} instead.</li>
 *   <li>P4: {@code NDArray.toType} detaches: its result carries no gradient (DJL 0.33 and 0.35). Casts inside
 *       a differentiable computation go through {@link #cast}.</li>
 *   <li>P5: arrays made from Java values keep DJL's direct buffer, capped by {@code MaxDirectMemorySize} (the heap
 *       size by default); long-lived weights are copied into libtorch's memory by {@link #ownedByLibtorch}.</li>
 * </ul>
 */
public final class Djl {
    private Djl() {}

    /** A 0-dimensional array on {@code manager}; keep the manager open until backward is done (P1). */
    public static NDArray scalar(NDManager manager, double value, DataType type) {
        checkDataType(type, manager);
        return switch (type) {
            case FLOAT64 -> manager.create(value);
            case FLOAT32 -> manager.create((float) value);
            default -> manager.create((float) value).toType(type, false);
        };
    }

    /** A scalar with the data type and manager of {@code like}. */
    public static NDArray scalarLike(NDArray like, double value) {
        return scalar(like.getManager(), value, like.getDataType());
    }

    /** Refuses BF16 on CPU, which aborts the JVM (P2). */
    public static void checkDataType(DataType type, NDManager manager) {
        if (type == DataType.BFLOAT16) {
            throw new IllegalArgumentException("bfloat16 arrays abort the JVM on " + manager.getDevice()
                    + ": DJL's JNI has no bfloat16 type on any device (trap P2 in docs/DESIGN.md); use float16 "
                    + "(dtype auto on GPUs) or float32");
        }
    }

    /**
     * A cast that autograd differentiates through (P4): {@code toType} detaches, but {@code cumprod} with a
     * dtype casts its input first and is differentiable, and over an axis of length one it is the identity
     * (libtorch's backward returns the gradient unchanged there). The added axis is the outermost, so on a GPU
     * the scan is one element per thread, like a plain cast. Returns {@code a} itself when it already has
     * {@code type}. Values are converted exactly as by {@code toType} (round to nearest).
     */
    public static NDArray cast(NDArray a, DataType type) {
        if (a.getDataType() == type) {
            return a;
        }
        checkDataType(type, a.getManager());
        return a.expandDims(0).cumProd(0, type).squeeze(0);
    }

    /**
     * {@code a[:, :-1]} of an array [batch, positions, ...] as one view (a split on axis 1). {@code get(":, :-1")}
     * would slice every axis it names, and each slice's backward writes a zeroed full-size gradient.
     */
    public static NDArray withoutLastPosition(NDArray a) {
        long positions = a.getShape().get(1);
        if (positions < 2) {
            throw new IllegalArgumentException("no positions left of " + a.getShape() + " without its last");
        }
        return a.split(new long[] {positions - 1}, 1).get(0);
    }

    /**
     * log softmax over {@code axis} computed in {@code type} (libtorch casts the input first, differentiably), so
     * a half-precision input needs no separate float32 copy of the vocabulary-sized logits.
     */
    public static NDArray logSoftmax(NDArray a, int axis, DataType type) {
        checkDataType(type, a.getManager());
        return JniUtils.logSoftmax((PtNDArray) a, axis, type);
    }

    /** Widens raw BF16 bits to float, in Java (never through an NDArray: P2). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /**
     * Enables autograd recording on the calling thread until closed, then restores the previous mode.
     * Thread-local, so concurrent tasks in one executor JVM do not interfere (P3).
     */
    public static GradScope gradScope(boolean enabled) {
        boolean previous = JniUtils.isGradMode();
        JniUtils.setGradMode(enabled);
        return new GradScope(previous);
    }

    /** The scope of {@link #gradScope}; closing it throws nothing, so try-with-resources needs no catch. */
    public static final class GradScope implements AutoCloseable {
        private final boolean previous;

        private GradScope(boolean previous) {
            this.previous = previous;
        }

        @Override
        public void close() {
            JniUtils.setGradMode(previous);
        }
    }

    /** Back-propagates a scalar loss into the {@code .grad} of every leaf that requires a gradient (P3). */
    public static void backward(NDArray loss) {
        if (loss.getShape().dimension() != 0 && loss.getShape().size() != 1) {
            throw new IllegalArgumentException("backward needs a scalar loss, got shape " + loss.getShape());
        }
        try (NDManager m = loss.getManager().newSubManager()) {
            NDArray seed = m.ones(loss.getShape(), loss.getDataType());
            JniUtils.backward((PtNDArray) loss, (PtNDArray) seed, false, false);
        }
    }

    /** Marks a leaf array as trainable: later backward calls accumulate into its gradient. */
    public static void requireGradient(NDArray leaf) {
        leaf.setRequiresGradient(true);
    }

    /** Resets an accumulated gradient to zero (libtorch accumulates across backward calls). */
    public static void zeroGradient(NDArray leaf) {
        JniUtils.zeroGrad((PtNDArray) leaf);
    }

    /**
     * The accumulated gradient of a leaf, moved onto {@code step} (DJL would otherwise attach it to the
     * leaf's long-lived manager and leak one array per call).
     */
    public static NDArray gradient(NDArray leaf, NDManager step) {
        NDArray g = leaf.getGradient();
        g.attach(step);
        return g;
    }

    /**
     * The gradient of {@code leaf}, or null when the leaf took no part in the differentiated graph (torch leaves
     * its {@code .grad} undefined; DJL then refuses {@code getGradient}).
     */
    public static NDArray gradientOrNull(NDArray leaf, NDManager step) {
        try {
            return gradient(leaf, step);
        } catch (IllegalStateException | NullPointerException e) {
            return null;
        }
    }

    /** Copies an array to a Java double array, whatever its floating data type. */
    public static double[] toDoubles(NDArray a) {
        if (a.getDataType() == DataType.FLOAT64) {
            return a.toDoubleArray();
        }
        try (NDArray wide = a.toType(DataType.FLOAT64, true)) {
            return wide.toDoubleArray();
        }
    }

    /**
     * A copy of {@code a} in memory libtorch allocated, and {@code a} closed. An array made from Java values in its
     * own type wraps the direct {@code ByteBuffer} DJL filled and keeps it alive, and direct buffers count against
     * the JVM's {@code MaxDirectMemorySize} (by default the heap size): a resident model kept that way cannot be
     * larger than the executor's heap ({@code OutOfMemoryError: Cannot reserve ... direct buffer memory}). Once
     * copied, the buffer is garbage and the weights live in native memory only.
     */
    public static NDArray ownedByLibtorch(NDArray a) {
        NDArray owned = a.duplicate();
        owned.attach(a.getManager());
        a.close();
        return owned;
    }

    /** Creates an array of the given type from doubles (no BF16 on CPU). */
    public static NDArray fromDoubles(NDManager manager, double[] values, Shape shape, DataType type) {
        checkDataType(type, manager);
        if (type == DataType.FLOAT64) {
            return manager.create(values, shape);
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return fromFloats(manager, f, shape, type);
    }

    /** Creates an array of the given type from floats (no BF16 on CPU). */
    public static NDArray fromFloats(NDManager manager, float[] values, Shape shape, DataType type) {
        return fromFloats(manager, java.nio.FloatBuffer.wrap(values), shape, type);
    }

    /**
     * Creates an array of the given type from float32 values: a {@code FloatBuffer}, or a direct {@code ByteBuffer}
     * in native order, which DJL wraps without copying it first.
     */
    public static NDArray fromFloats(NDManager manager, java.nio.Buffer float32, Shape shape, DataType type) {
        checkDataType(type, manager);
        NDArray a = manager.create(float32, shape, DataType.FLOAT32);
        if (type == DataType.FLOAT32) {
            return a;
        }
        NDArray converted = a.toType(type, false);
        a.close();
        return converted;
    }
}
