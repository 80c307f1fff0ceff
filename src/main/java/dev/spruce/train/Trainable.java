package dev.spruce.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaModel;
import java.io.Serializable;
import java.util.Map;

/**
 * What a training run learns, on top of a frozen base model cached on every executor: named parameters
 * with their shapes and initial values, and how current values enter the one forward pass. Shipped to
 * executors with each task, so implementations stay small and serializable.
 */
public interface Trainable extends Serializable {
    /** The forward to run: a model (the base or a view of it) and the hooks to run it with. */
    record Binding(LlamaModel model, ForwardHooks hooks) {}

    /**
     * Where a forward runs: the optimizer step it computes (1-based while training; during validation the
     * number of steps applied so far), the run's seed, and whether it trains. Randomness shared by the whole
     * global batch (Compresso's mask sample) is a function of (seed, step), so every task draws the same.
     */
    record Context(long step, long seed, boolean training) implements Serializable {}

    /** Every parameter by name with its shape, in a fixed order (the order of gradient and state arrays). */
    Map<String, long[]> shapes();

    /** Fresh values of every parameter of {@link #shapes()}, drawn from {@code seed}. */
    Map<String, double[]> initialValues(long seed);

    /**
     * The data type of the parameters' arrays on a base model computing in {@code computeType}: by default
     * that type; LoRA keeps float32 adapters on a half-precision model.
     */
    default DataType parameterType(DataType computeType) {
        return computeType;
    }

    /**
     * Binds current parameter values to the base model.
     *
     * @param leaves   one array per parameter on {@code step}, in {@link #parameterType}; while
     *                 training they require gradients
     * @param rowSeeds one seed per batch row for per-sample randomness (dropout) while training, or null
     *                 for evaluation
     */
    Binding bind(LlamaModel base, NDManager step, Map<String, NDArray> leaves, long[] rowSeeds);

    /** {@link #bind(LlamaModel, NDManager, Map, long[])} knowing the step; by default the step does not matter. */
    default Binding bind(LlamaModel base, NDManager step, Map<String, NDArray> leaves, long[] rowSeeds,
                         Context context) {
        return bind(base, step, leaves, rowSeeds);
    }

    /** How the driver optimizes parameter {@code name}; by default the run's settings. */
    default ParameterGroup group(String name) {
        return ParameterGroup.MAIN;
    }
}
