package dev.spruce.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.TensorNames;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * LoRA on the linear layers of a LLaMA model: {@code y = W x + (alpha/r) · B (A dropout(x))}, entering the
 * one forward pass as a {@link ForwardHooks}. Parameters are named after the module's weight with
 * {@code .weight} replaced by {@code .lora_A.weight} / {@code .lora_B.weight}, which is PEFT's naming without
 * its {@code base_model.model.} prefix.
 *
 * <p>Dropout masks are computed on the device by a counter-based hash of (row seed, module, position)
 * ({@link DropoutMask}), so a sample gets the same mask whichever executor, device and micro-batch it lands in
 * (distributed training equals one machine). On a CPU device the same hash runs in Java.
 *
 * <p>The adapters may be in a wider type than the model (float32 adapters on a bfloat16 or float16 model): the
 * module's input is cast up to the adapters' type at the boundary, the product B·A·dropout(x) is computed in
 * it, and only the update is cast down to the module output's type.
 */
public final class LoraAdapters implements ForwardHooks {
    private final LoraSettings settings;
    private final Map<String, NDArray[]> adapters;
    private final NDArray scaling;
    private final long[] rowSeeds;
    private final NDManager step;
    private final DataType type;
    /** [modules, rows, 3] int64 dropout keys, copied to the device once per step on first use. */
    private NDArray dropoutKeys;
    private DropoutMask masks;
    private Map<String, Integer> moduleIndex;
    /** On a CPU the host is the device: the Java hash is the same function and about ten times faster. */
    private boolean hostMasks;

    private LoraAdapters(LoraSettings settings, Map<String, NDArray[]> adapters, NDArray scaling, long[] rowSeeds,
                         NDManager step, DataType type) {
        this.settings = settings;
        this.adapters = adapters;
        this.scaling = scaling;
        this.rowSeeds = rowSeeds;
        this.step = step;
        this.type = type;
        this.hostMasks = ai.djl.Device.Type.CPU.equals(step.getDevice().getDeviceType());
    }

    /**
     * Computes dropout masks with libtorch even on a CPU (tests: the device path must equal the host one).
     * Returns this.
     */
    LoraAdapters onDevice() {
        hostMasks = false;
        return this;
    }

    /** The adapted weight names of a model, in layer order; modules absent from a pruned layer are skipped. */
    public static Map<String, long[][]> shapes(LlamaConfig config, LoraSettings settings) {
        Map<String, long[][]> out = new LinkedHashMap<>();
        Map<String, long[]> weights = TensorNames.expectedShapes(config);
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            for (String module : settings.targetModules()) {
                String name = TensorNames.layer(l, moduleWeight(module));
                long[] w = weights.get(name);
                if (w == null || w[0] == 0 || w[1] == 0) {
                    continue;
                }
                out.put(name, new long[][] {{settings.rank(), w[1]}, {w[0], settings.rank()}});
            }
        }
        return out;
    }

    /** The weight suffix of a module name, e.g. {@code gate_proj -> mlp.gate_proj.weight}. */
    public static String moduleWeight(String module) {
        boolean mlp = module.equals("gate_proj") || module.equals("up_proj") || module.equals("down_proj");
        return (mlp ? "mlp." : "self_attn.") + module + ".weight";
    }

    public static String aName(String weightName) {
        return weightName.substring(0, weightName.length() - ".weight".length()) + ".lora_A.weight";
    }

    public static String bName(String weightName) {
        return weightName.substring(0, weightName.length() - ".weight".length()) + ".lora_B.weight";
    }

    /**
     * Fresh parameters: A Kaiming-uniform with a = sqrt(5) (bound 1/sqrt(fan_in), as PEFT), B zero.
     */
    public static Map<String, double[]> initialize(LlamaConfig config, LoraSettings settings, long seed) {
        Map<String, double[]> params = new LinkedHashMap<>();
        SplittableRandom random = new SplittableRandom(seed);
        for (Map.Entry<String, long[][]> e : shapes(config, settings).entrySet()) {
            long[] a = e.getValue()[0];
            long[] b = e.getValue()[1];
            double bound = 1.0 / Math.sqrt(a[1]);
            double[] av = new double[Math.toIntExact(a[0] * a[1])];
            for (int i = 0; i < av.length; i++) {
                av[i] = random.nextDouble(-bound, bound);
            }
            params.put(aName(e.getKey()), av);
            params.put(bName(e.getKey()), new double[Math.toIntExact(b[0] * b[1])]);
        }
        return params;
    }

    /**
     * Adapters over the given arrays (already on the step manager; they may require gradients).
     *
     * @param type     the adapters' data type (the arrays'), which may be wider than the model's
     * @param rowSeeds one dropout seed per batch row while training, or null for inference (no dropout)
     */
    public static LoraAdapters of(NDManager step, LlamaConfig config, LoraSettings settings,
                                  Map<String, NDArray> params, DataType type, long[] rowSeeds) {
        Map<String, NDArray[]> adapters = new LinkedHashMap<>();
        for (String weight : shapes(config, settings).keySet()) {
            NDArray a = params.get(aName(weight));
            NDArray b = params.get(bName(weight));
            if (a == null || b == null) {
                throw new IllegalArgumentException("LoRA parameters for " + weight + " are missing");
            }
            adapters.put(weight, new NDArray[] {a, b});
        }
        return new LoraAdapters(settings, adapters, Djl.scalar(step, settings.scaling(), type), rowSeeds, step, type);
    }

    @Override
    public NDArray adaptLinear(String weightName, NDArray input, NDArray output) {
        NDArray[] ab = adapters.get(weightName);
        if (ab == null) {
            return output;
        }
        NDArray x = Djl.cast(input, type);
        if (training() && settings.dropout() > 0) {
            x = x.mul(dropout(x.getShape(), weightName));
        }
        NDArray low = single(Linear.linear(x, ab[0]));
        NDArray update = single(Linear.linear(low, ab[1])).mul(scaling);
        return output.add(Djl.cast(update, output.getDataType()));
    }

    @Override
    public boolean training() {
        return rowSeeds != null;
    }

    /** The inverted-dropout mask of one module's input, a function of (row seed, module, position) only. */
    private NDArray dropout(Shape input, String weightName) {
        if (input.get(0) != rowSeeds.length) {
            throw new IllegalArgumentException("LoRA dropout has " + rowSeeds.length + " row seeds for a batch of "
                    + input.get(0) + " rows");
        }
        if (hostMasks) {
            return DropoutMask.onHost(step, rowSeeds, weightName, input, settings.dropout(), type);
        }
        if (dropoutKeys == null) {
            int modules = adapters.size();
            long[] keys = new long[modules * rowSeeds.length * DropoutMask.KEYS];
            int i = 0;
            for (String weight : adapters.keySet()) {
                for (long seed : rowSeeds) {
                    for (long k : DropoutMask.keys(seed, weight)) {
                        keys[i++] = k;
                    }
                }
            }
            dropoutKeys = step.create(keys, new Shape(modules, rowSeeds.length, DropoutMask.KEYS));
            masks = new DropoutMask(step, settings.dropout(), type);
        }
        int module = moduleIndex(weightName);
        return masks.of(dropoutKeys.get(module), input);
    }

    private int moduleIndex(String weightName) {
        if (moduleIndex == null) {
            moduleIndex = new HashMap<>();
            for (String weight : adapters.keySet()) {
                moduleIndex.put(weight, moduleIndex.size());
            }
        }
        return moduleIndex.get(weightName);
    }

    private static NDArray single(NDList l) {
        return l.singletonOrThrow();
    }

    /** W + (alpha/r)·B·A for one weight, on the host: the merged weight. */
    public static double[] merge(double[] w, double[] a, double[] b, int out, int in, int rank, double scaling) {
        double[] merged = w.clone();
        for (int o = 0; o < out; o++) {
            for (int k = 0; k < rank; k++) {
                double bk = b[o * rank + k] * scaling;
                if (bk == 0) {
                    continue;
                }
                for (int i = 0; i < in; i++) {
                    merged[o * in + i] += bk * a[k * in + i];
                }
            }
        }
        return merged;
    }
}
