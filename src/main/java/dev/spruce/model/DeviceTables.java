package dev.spruce.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Arrays every forward pass of a model needs and that do not depend on the batch: rotary cos/sin tables,
 * the causal part of the attention bias, and scalar constants. Built once on the model's device and kept on
 * a manager of the model, so a step copies nothing to the device for them (a scalar made per call is a
 * host-to-device copy that waits for the GPU). Several Spark tasks share one cached model, so every table is
 * made under {@link ConcurrentHashMap#computeIfAbsent} and never replaced or freed before the model closes:
 * a task may still be reading a table another task has outgrown. Leaf views share their base's tables.
 *
 * <p>Results of ops are attached to the manager of their first operand, so callers put the step's array
 * first, or attach the result to the step.
 */
final class DeviceTables implements AutoCloseable {
    /** Cached causal-bias elements at most (two [T, S] tables per entry); beyond it they are built per call. */
    static final long CAUSAL_BUDGET = 1L << 25;
    /** Smallest rotary table: positions 0..63. */
    private static final int MIN_POSITIONS = 64;

    private record ConstantKey(long bits, DataType type) {}

    private record RopeKey(int positions, DataType type) {}

    private record CausalKey(int queries, int keys, DataType type) {}

    private final NDManager manager;
    private final double[] inverseFrequencies;
    private final Map<ConstantKey, NDArray> constants = new ConcurrentHashMap<>();
    private final Map<RopeKey, NDArray[]> rope = new ConcurrentHashMap<>();
    private final Map<CausalKey, NDArray[]> causal = new ConcurrentHashMap<>();
    private final AtomicLong causalElements = new AtomicLong();
    private final long causalBudget;

    DeviceTables(NDManager modelManager, double[] inverseFrequencies) {
        this(modelManager, inverseFrequencies, CAUSAL_BUDGET);
    }

    DeviceTables(NDManager modelManager, double[] inverseFrequencies, long causalBudget) {
        this.manager = modelManager.newSubManager();
        this.inverseFrequencies = inverseFrequencies;
        this.causalBudget = causalBudget;
    }

    /** A 0-dimensional array of {@code value}; it lives as long as the model, so autograd may hold it (P1). */
    NDArray constant(double value, DataType type) {
        return constants.computeIfAbsent(new ConstantKey(Double.doubleToLongBits(value), type),
                k -> Djl.scalar(manager, value, type));
    }

    /**
     * cos and sin of shape [n, head_dim] for positions 0..n-1, n a power of two above {@code maxPosition}. The
     * values are {@link Rope#tables}' (float64 in Java, then converted to {@code type}), so gathering rows of
     * them gives the same bits as building per batch did.
     */
    NDArray[] rope(int maxPosition, DataType type) {
        int n = MIN_POSITIONS;
        while (n <= maxPosition) {
            n = Math.multiplyExact(n, 2);
        }
        int positions = n;
        return rope.computeIfAbsent(new RopeKey(positions, type), k -> {
            int[][] all = new int[1][positions];
            for (int p = 0; p < positions; p++) {
                all[0][p] = p;
            }
            double[][] tables = Rope.tables(inverseFrequencies, all);
            Shape shape = new Shape(positions, 2L * inverseFrequencies.length);
            return new NDArray[] {Djl.fromDoubles(manager, tables[0], shape, type),
                    Djl.fromDoubles(manager, tables[1], shape, type)};
        });
    }

    /**
     * For T queries at positions S-T..S-1 over S keys: {causal, self}, each [1, 1, 1, T, S] additive biases of 0 and
     * {@code masked}: causal lets query t see keys 0..S-T+t, self only key S-T+t (what a padding query sees).
     * Built on the device; cached while the budget lasts, else made on {@code step} for this call only.
     */
    NDArray[] causal(NDManager step, int queries, int keys, DataType type, double masked) {
        CausalKey key = new CausalKey(queries, keys, type);
        NDArray[] cached = causal.get(key);
        if (cached != null) {
            return cached;
        }
        long size = 2L * queries * keys;
        if (causalElements.addAndGet(size) > causalBudget) {
            causalElements.addAndGet(-size);
            return causalTables(step, queries, keys, type, masked);
        }
        boolean[] made = {false};
        NDArray[] tables = causal.computeIfAbsent(key, k -> {
            made[0] = true;
            return causalTables(manager, queries, keys, type, masked);
        });
        if (!made[0]) {
            causalElements.addAndGet(-size); // another task made it first
        }
        return tables;
    }

    private static NDArray[] causalTables(NDManager owner, int queries, int keys, DataType type, double masked) {
        int past = keys - queries;
        try (NDManager scratch = owner.newSubManager()) {
            NDArray key = scratch.arange(0, keys, 1, DataType.INT64).reshape(1, keys);
            NDArray query = scratch.arange(past, keys, 1, DataType.INT64).reshape(queries, 1);
            NDArray value = Djl.scalar(scratch, masked, type);
            NDArray zero = Djl.scalar(scratch, 0, type); // 0 * masked is -0.0; adding +0.0 makes it 0.0
            NDArray causalBias = key.gt(query).toType(type, false).mul(value).add(zero)
                    .reshape(1, 1, 1, queries, keys);
            NDArray selfBias = key.neq(query).toType(type, false).mul(value).add(zero)
                    .reshape(1, 1, 1, queries, keys);
            causalBias.attach(owner);
            selfBias.attach(owner);
            return new NDArray[] {causalBias, selfBias};
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
