package dev.spruce.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Causal-LM negative log-likelihood, Hugging Face semantics: logits at position t predict the label at
 * t+1, labels equal to {@code -100} are ignored. Returned as sums with host-side token counts, so
 * distributed callers can normalise by the global count exactly.
 */
public final class CausalLmLoss {
    private CausalLmLoss() {}

    /**
     * Per-row summed NLL, shape [batch], on {@code step}; computed in at least float32. {@code logits} are either
     * all positions, [batch, time, vocab] ({@link LlamaModel#logits}), or only those that predict a next token,
     * [batch, time-1, vocab] ({@link LlamaModel#nextTokenLogits}).
     */
    public static NDArray rowSums(NDManager step, NDArray logits, TokenBatch batch) {
        if (batch.labels() == null) {
            throw new IllegalArgumentException("loss needs labels; use TokenBatch.selfSupervised for plain text");
        }
        int b = batch.batchSize();
        int t = batch.length();
        if (t < 2) {
            return step.zeros(new Shape(b), lossType(logits));
        }
        long[] targets = new long[b * (t - 1)];
        double[] valid = new double[b * (t - 1)];
        for (int r = 0; r < b; r++) {
            for (int s = 1; s < t; s++) {
                int label = batch.labels()[r][s];
                int i = r * (t - 1) + (s - 1);
                if (label != TokenBatch.IGNORE) {
                    targets[i] = label;
                    valid[i] = 1.0;
                }
            }
        }
        // In float32 for a half-precision model, upcast inside the op (toType would detach: P4).
        NDArray logProbabilities = Djl.logSoftmax(predicting(logits, t), -1, lossType(logits));
        NDArray index = step.create(targets, new Shape(b, t - 1, 1));
        NDArray picked = logProbabilities.gather(index, 2).reshape(b, t - 1);
        NDArray weights = Djl.fromDoubles(step, valid, new Shape(b, t - 1), picked.getDataType());
        return picked.mul(weights).sum(new int[] {1}).neg();
    }

    /** Summed NLL over the whole batch, a scalar on {@code step}. */
    public static NDArray sum(NDManager step, NDArray logits, TokenBatch batch) {
        return rowSums(step, logits, batch).sum();
    }

    /** Mean NLL over all predicted tokens of the batch (the HF loss). */
    public static NDArray mean(NDManager step, NDArray logits, TokenBatch batch) {
        long count = 0;
        for (long n : batch.predictedTokens()) {
            count += n;
        }
        NDArray sum = sum(step, logits, batch);
        return sum.div(Djl.scalar(step, Math.max(count, 1), sum.getDataType()));
    }

    /**
     * The sum over rows of each row's own mean NLL: its gradient is the sum of per-sample gradients
     * (LLM-Pruner's g times N). Rows with no predicted token contribute nothing.
     */
    public static NDArray sumOfRowMeans(NDManager step, NDArray logits, TokenBatch batch) {
        NDArray rows = rowSums(step, logits, batch);
        long[] counts = batch.predictedTokens();
        double[] inverse = new double[counts.length];
        for (int i = 0; i < counts.length; i++) {
            inverse[i] = counts[i] == 0 ? 0 : 1.0 / counts[i];
        }
        return rows.mul(Djl.fromDoubles(step, inverse, new Shape(counts.length), rows.getDataType())).sum();
    }

    /** The logits of the positions 0..t-2, whichever of the two forms {@link #rowSums} takes was given. */
    private static NDArray predicting(NDArray logits, int t) {
        long positions = logits.getShape().get(1);
        if (positions == t - 1) {
            return logits;
        }
        if (positions == t) {
            return Djl.withoutLastPosition(logits);
        }
        throw new IllegalArgumentException("logits " + logits.getShape() + " hold " + positions + " positions for a "
                + "batch of " + t + " tokens (expected " + t + ", or " + (t - 1) + " for next-token logits)");
    }

    private static DataType lossType(NDArray logits) {
        return logits.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    }
}
