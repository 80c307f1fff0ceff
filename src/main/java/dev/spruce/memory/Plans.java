package dev.spruce.memory;

import dev.spruce.model.LlamaConfig;
import java.util.ArrayList;
import java.util.List;

/** Terms every stage shares. */
final class Plans {
    /** CUDA context, cuBLAS workspace and the caching allocator's slack on a GPU; libtorch's own buffers on a CPU. */
    static final long GPU_RUNTIME = 1L << 30;
    static final long CPU_RUNTIME = 512L << 20;

    private Plans() {}

    static Term weights(LlamaConfig config, Precision p) {
        return new Term("weights", Term.Part.TENSORS, config.parameterCount() * p.bytes(),
                "P x c (P = " + config.parameterCount() + ", c = " + p.bytes() + ")");
    }

    static Term runtime(ExecutorShape shape) {
        return shape.gpu() ? new Term("CUDA context and workspace", Term.Part.TENSORS, GPU_RUNTIME, "1 GiB")
                : new Term("libtorch runtime", Term.Part.TENSORS, CPU_RUNTIME, "0.5 GiB");
    }

    /**
     * The largest tensor while the model loads: float32 weights are decoded into one direct buffer (counted against
     * {@code MaxDirectMemorySize}, the heap size by default) of at most 1 GiB, larger weights in pieces; float64 ones
     * go through a double[] and DJL's direct copy of it.
     */
    static Term loadBuffer(LlamaConfig config, Precision p) {
        long largest = (long) config.vocabSize() * config.hiddenSize();
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            largest = Math.max(largest, (long) config.hiddenSize() * config.layerIntermediate(l));
            largest = Math.max(largest, (long) config.hiddenSize() * config.layerHeads(l) * config.headDim());
        }
        return p == Precision.FLOAT64
                ? new Term("load buffer (largest tensor)", Term.Part.HEAP, largest * 16, "largest tensor x 16")
                : new Term("load buffer (largest tensor)", Term.Part.HEAP, Math.min(largest * 4, 1L << 30),
                        "largest tensor x 4, at most 1 GiB");
    }

    /**
     * Narrower dtypes worth suggesting: half precision needs a GPU, and only float16 (DJL has no bfloat16 type on
     * any device, trap P2, so suggesting it would name a setting the job refuses).
     */
    static List<String> lowerDtypes(String dtype, boolean gpu) {
        Precision p = Precision.of(dtype, gpu, "dtype");
        List<String> out = new ArrayList<>();
        if (p == Precision.FLOAT64) {
            out.add("float32");
        }
        if (gpu && !p.half()) {
            out.add("float16");
        }
        return out;
    }
}
