package dev.spruce.spark;

import dev.spruce.io.Fs;
import java.io.Serializable;

/**
 * What an executor needs to load a model by itself: where it is and in which precision to compute.
 * Small and serializable; tasks carry it instead of weights.
 *
 * @param path     model directory in Hugging Face layout, as a Hadoop path string (made absolute)
 * @param dataType compute precision: float32, float64, float16, or auto (float16 on a GPU, float32 on the CPU;
 *                 resolved where the model is loaded); bfloat16 is refused (DJL cannot create it, trap P2)
 * @param cpuOnly  ignore assigned GPUs
 */
public record ModelRef(String path, String dataType, boolean cpuOnly) implements Serializable {
    public ModelRef {
        if (path == null || path.isBlank()) {
            throw new IllegalArgumentException("model path is empty");
        }
        // Made absolute where the ref is made (the driver): a relative path would resolve in each executor's own
        // working directory.
        path = Fs.absolute(path);
        switch (dataType) {
            case "auto", "float32", "float64", "float16" -> { }
            case "bfloat16" -> throw new IllegalArgumentException("model dtype bfloat16 cannot run: DJL's JNI has no "
                    + "bfloat16 type and aborts the JVM on every device (trap P2 in docs/DESIGN.md); use auto "
                    + "(float16 on GPUs, float32 on CPUs), float16 or float32");
            default -> throw new IllegalArgumentException("model dtype must be auto, float32, float64 or float16, "
                    + "got '" + dataType + "'");
        }
    }
}
