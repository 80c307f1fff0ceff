package dev.spruce.importance;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TokenBatch;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.DoubleUnaryOperator;

/**
 * Accumulates, over a shard of calibration samples, G = Σₙ gₙ (and Q = Σₙ gₙ⊙gₙ when the criterion needs
 * the Fisher term) for the tensors of the given members, where gₙ is the gradient of sample n's own mean
 * loss. Then turns them into the signed {@link Salience#partial partial sums} that add exactly across
 * shards. Gradients flow into a per-batch {@link LlamaModel#leafView leaf view}, so tasks sharing a
 * cached model stay independent.
 */
public final class GradientAccumulator implements AutoCloseable {
    private final LlamaModel model;
    private final Criterion criterion;
    private final List<Member> members;
    private final List<String> tensors;
    private final NDManager manager;
    private final Map<String, NDArray> gradientSums = new LinkedHashMap<>();
    private final Map<String, NDArray> squaredSums = new LinkedHashMap<>();
    private final DataType sumType;
    /** The shard's leaf view when libtorch accumulates G in the leaves' gradients (see accumulateInLeaves). */
    private LlamaModel leaves;
    private long samples;
    private long tokens;

    public GradientAccumulator(LlamaModel model, Criterion criterion, Collection<Member> members) {
        this.model = model;
        this.criterion = criterion;
        this.members = List.copyOf(members);
        Set<String> names = new LinkedHashSet<>();
        for (Member m : members) {
            names.add(m.tensor());
        }
        this.tensors = new ArrayList<>(names);
        this.manager = model.manager().newSubManager();
        this.sumType = model.dataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    }

    /** Adds every row of {@code batch} as one calibration sample (rows need labels). */
    public void add(TokenBatch batch) {
        samples += batch.batchSize();
        for (long n : batch.predictedTokens()) {
            tokens += n;
        }
        if (!criterion.needsGradients() && !criterion.needsSquaredGradients()) {
            return;
        }
        if (criterion.needsSquaredGradients()) {
            for (int r = 0; r < batch.batchSize(); r++) {
                accumulate(row(batch, r), true);
            }
        } else {
            accumulate(batch, false);
        }
    }

    private static TokenBatch row(TokenBatch b, int r) {
        return new TokenBatch(new int[][] {b.ids()[r]},
                b.attentionMask() == null ? null : new int[][] {b.attentionMask()[r]},
                new int[][] {b.labels()[r]});
    }

    private void accumulate(TokenBatch batch, boolean squared) {
        if (!squared && model.dataType() == sumType) {
            accumulateInLeaves(batch);
            return;
        }
        try (NDManager step = manager.newSubManager()) {
            LlamaModel view = model.leafView(step, tensors);
            try (AutoCloseable grad = Djl.gradScope(true)) {
                NDArray logits = view.nextTokenLogits(step, batch, ForwardHooks.NONE);
                Djl.backward(CausalLmLoss.sumOfRowMeans(step, logits, batch));
            }
            // One tensor at a time, and each transient freed at once: the widened copy, g⊙g, and the leaf itself
            // (whose .grad goes with it), so a step's peak is its gradients plus one tensor's copies.
            for (String name : tensors) {
                NDArray leaf = view.weight(name);
                NDArray g = Djl.gradient(leaf, step);
                NDArray wide = g.getDataType() != sumType ? g.toType(sumType, false) : g;
                addInto(gradientSums, name, wide);
                if (squared) {
                    try (NDArray square = wide.mul(wide)) {
                        addInto(squaredSums, name, square);
                    }
                }
                if (wide != g) {
                    wide.close();
                }
                g.close();
                leaf.close();
            }
        } catch (Exception e) {
            throw unchecked(e);
        }
    }

    /**
     * G alone, in the model's own type: one leaf view for the whole shard, and libtorch adds each batch's
     * gradient into the leaves' {@code .grad}. The same additions as an explicit running sum, without a second
     * gradient-sized array per tensor.
     */
    private void accumulateInLeaves(TokenBatch batch) {
        if (leaves == null) {
            leaves = model.leafView(manager, tensors);
        }
        try (NDManager step = manager.newSubManager()) {
            try (AutoCloseable grad = Djl.gradScope(true)) {
                NDArray logits = leaves.nextTokenLogits(step, batch, ForwardHooks.NONE);
                Djl.backward(CausalLmLoss.sumOfRowMeans(step, logits, batch));
            }
        } catch (Exception e) {
            throw unchecked(e);
        }
    }

    private static RuntimeException unchecked(Exception e) {
        return e instanceof RuntimeException re ? re : new IllegalStateException(e);
    }

    private void addInto(Map<String, NDArray> sums, String name, NDArray value) {
        NDArray sum = sums.get(name);
        if (sum == null) {
            NDArray copy = value.duplicate();
            copy.attach(manager);
            sums.put(name, copy);
        } else {
            sum.addi(value);
        }
    }

    /** Calibration samples added so far (N of this shard). */
    public long samples() {
        return samples;
    }

    /** Predicted tokens added so far. */
    public long tokens() {
        return tokens;
    }

    /**
     * The signed partial sum of every member (null values for weight-only criteria), computed on the host
     * one tensor at a time: the single-node path, which holds each tensor whole.
     */
    public Map<Member, double[]> partials() {
        Map<Member, double[]> out = new LinkedHashMap<>();
        for (Member m : members) {
            out.put(m, partial(m));
        }
        return out;
    }

    /** The signed partial sum of one member, whole. */
    public double[] partial(Member m) {
        if (!criterion.isTaylor()) {
            return null;
        }
        int[] rc = rowsCols(model.weight(m.tensor()));
        if (criterion == Criterion.VECTORIZE) {
            return vectorizePartial(m, rc[0]);
        }
        return partialRows(m, 0, rc[0]);
    }

    /**
     * Rows {@code [r0, r1)} of a member's element-wise partial (for {@code vectorize}, of W⊙G before the
     * per-channel sums): what the distributed job ships as one block, computed from block-sized host copies so
     * that no host array is as large as the tensor. The values equal the same rows of the whole-tensor partial.
     */
    public double[] partialRows(Member m, int r0, int r1) {
        NDArray w = model.weight(m.tensor());
        int[] rc = rowsCols(w);
        Criterion elementwise = criterion == Criterion.VECTORIZE ? Criterion.PARAM_FIRST : criterion;
        try (NDManager block = manager.newSubManager()) {
            double[] wRows = rowsOf(w, r0, r1, block);
            double[] g = criterion.needsGradients() ? rowsOf(gradientSum(m.tensor(), block), r0, r1, block) : null;
            double[] q = criterion.needsSquaredGradients() ? rowsOf(sumOrZeros(squaredSums, m.tensor(), block), r0, r1, block)
                    : null;
            return Salience.partial(elementwise, wRows, g, q, r1 - r0, rc[1], m.axis());
        }
    }

    /**
     * Rows {@code [r0, r1)} of a member's partial as the distributed job ships them: float32 when {@code narrow},
     * else float64. {@code param_first} on a float32 or float64 model is W⊙G computed on the device in the model's
     * own type and copied once: one correctly rounded product per element, so the same bits as the host formula
     * (a float32 product is exact in float64, and rounding it to float32 is what the device does); every other case
     * goes through {@link #partialRows}.
     */
    PartialBlock partialBlock(Member m, int r0, int r1, boolean narrow) {
        DataType own = model.dataType();
        if (criterion == Criterion.PARAM_FIRST && own == (narrow ? DataType.FLOAT32 : DataType.FLOAT64)) {
            try (NDManager block = manager.newSubManager()) {
                NDArray w = rows(model.weight(m.tensor()), r0, r1, block);
                NDArray g = rows(gradientSum(m.tensor(), block), r0, r1, block);
                NDArray product = w.mul(g);
                return narrow ? PartialBlock.of(product.toFloatArray()) : PartialBlock.of(product.toDoubleArray(), false);
            }
        }
        return PartialBlock.of(partialRows(m, r0, r1), narrow);
    }

    /**
     * The {@code vectorize} partial (per-channel sums of W⊙G), folded from blocks of {@code rowsPerBlock} rows in
     * row order: the same additions, in the same order, as summing the whole tensor.
     */
    public double[] vectorizePartial(Member m, int rowsPerBlock) {
        int[] rc = rowsCols(model.weight(m.tensor()));
        int rows = rc[0];
        int cols = rc[1];
        double[] out = new double[m.axis().length(rows, cols)];
        for (int r0 = 0; r0 < rows; r0 += rowsPerBlock) {
            int r1 = Math.min(rows, r0 + rowsPerBlock);
            Salience.foldOverOtherAxis(out, partialRows(m, r0, r1), r0, r1 - r0, cols, m.axis(),
                    DoubleUnaryOperator.identity());
        }
        return out;
    }

    /** G of one tensor: the explicit sum, the leaves' accumulated gradient, or zeros before any sample. */
    private NDArray gradientSum(String name, NDManager block) {
        if (leaves != null) {
            return Djl.gradient(leaves.weight(name), block);
        }
        return sumOrZeros(gradientSums, name, block);
    }

    private NDArray sumOrZeros(Map<String, NDArray> sums, String name, NDManager block) {
        NDArray s = sums.get(name);
        if (s != null) {
            return s;
        }
        NDArray w = model.weight(name);
        return block.zeros(w.getShape(), sumType, w.getDevice());
    }

    /** Rows [r0, r1) of a weight-shaped array as doubles (a vector is one row). */
    private static double[] rowsOf(NDArray a, int r0, int r1, NDManager block) {
        return a == null ? null : Djl.toDoubles(rows(a, r0, r1, block));
    }

    /** Rows [r0, r1) of a weight-shaped array, on {@code block} (a vector is one row: itself). */
    private static NDArray rows(NDArray a, int r0, int r1, NDManager block) {
        if (a.getShape().dimension() == 1) {
            return a;
        }
        NDArray rows = a.get(new NDIndex("{}:{}", r0, r1));
        rows.attach(block);
        return rows;
    }

    /** Rows and columns of a weight as the salience functions see it (a vector is 1 x d). */
    public static int[] rowsCols(NDArray w) {
        return rowsCols(w.getShape().getShape());
    }

    /** Rows and columns of a tensor shape as the salience functions see it (a vector is 1 x d). */
    public static int[] rowsCols(long[] shape) {
        return shape.length == 1 ? new int[] {1, Math.toIntExact(shape[0])}
                : new int[] {Math.toIntExact(shape[0]), Math.toIntExact(shape[1])};
    }

    @Override
    public void close() {
        manager.close();
    }
}
