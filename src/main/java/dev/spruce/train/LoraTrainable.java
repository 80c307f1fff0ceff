package dev.spruce.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.spruce.lora.LoraAdapters;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** LoRA adapters on a frozen base: the parameters are every adapter's A and B (LoRA recovery). */
public final class LoraTrainable implements Trainable {
    private static final long serialVersionUID = 1L;

    private final LlamaConfig config;
    private final LoraSettings settings;

    public LoraTrainable(LlamaConfig config, LoraSettings settings) {
        this.config = config;
        this.settings = settings;
    }

    public LoraSettings settings() {
        return settings;
    }

    @Override
    public Map<String, long[]> shapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        LoraAdapters.shapes(config, settings).forEach((weight, ab) -> {
            shapes.put(LoraAdapters.aName(weight), ab[0]);
            shapes.put(LoraAdapters.bName(weight), ab[1]);
        });
        return shapes;
    }

    @Override
    public Map<String, double[]> initialValues(long seed) {
        return LoraAdapters.initialize(config, settings, seed);
    }

    @Override
    public Binding bind(LlamaModel base, NDManager step, Map<String, NDArray> leaves, long[] rowSeeds) {
        LoraAdapters.shapes(config, settings).forEach((weight, ab) -> {
            long[] actual = base.weight(weight).getShape().getShape();
            if (actual[0] != ab[1][0] || actual[1] != ab[0][1]) {
                throw new IllegalArgumentException("LoRA adapters were shaped for tensor '" + weight + "' of ["
                        + ab[1][0] + ", " + ab[0][1] + "], the base model holds " + Arrays.toString(actual));
            }
        });
        return new Binding(base, LoraAdapters.of(step, config, settings, leaves, parameterType(base.dataType()),
                rowSeeds));
    }

    /** float32 adapters (and their gradients) on a bfloat16 or float16 model; float64 ones on a float64 model. */
    @Override
    public DataType parameterType(DataType computeType) {
        return computeType == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    }
}
