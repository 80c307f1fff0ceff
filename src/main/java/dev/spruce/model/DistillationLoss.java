package dev.spruce.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Knowledge-distillation loss on next-token distributions: at every position that {@link CausalLmLoss} would
 * score (logits at t predict the label at t+1; {@code -100} labels are skipped), the Kullback-Leibler divergence
 * KL(p_T || p_S) = Σ_v p_T(v)·(log p_T(v) − log p_S(v)) of the student's distribution p_S = softmax(z_S/τ) from
 * the teacher's p_T = softmax(z_T/τ), multiplied by τ² so that its gradient keeps the scale of the cross-entropy
 * as τ changes (Hinton et al.). Returned as sums, like the LM loss, so that distributed callers normalise by the
 * global token count exactly. Computed in at least float32; the teacher's logits carry no gradient.
 */
public final class DistillationLoss {
    private DistillationLoss() {}

    /** Per-row summed τ²·KL, shape [batch], on {@code step}. */
    public static NDArray rowSums(NDManager step, NDArray studentLogits, NDArray teacherLogits, TokenBatch batch,
                                  double temperature) {
        requireTemperature(temperature);
        if (!studentLogits.getShape().equals(teacherLogits.getShape())) {
            throw new IllegalArgumentException("student logits " + studentLogits.getShape() + " and teacher logits "
                    + teacherLogits.getShape() + " differ (teacher and student need the same vocabulary)");
        }
        if (batch.labels() == null) {
            throw new IllegalArgumentException("distillation needs labels to know which positions are scored");
        }
        int b = batch.batchSize();
        int t = batch.length();
        DataType type = lossType(studentLogits);
        if (t < 2) {
            return step.zeros(new Shape(b), type);
        }
        double[] valid = new double[b * (t - 1)];
        for (int r = 0; r < b; r++) {
            for (int s = 1; s < t; s++) {
                if (batch.labels()[r][s] != TokenBatch.IGNORE) {
                    valid[r * (t - 1) + (s - 1)] = 1.0;
                }
            }
        }
        NDArray logTeacher = logProbabilities(step, teacherLogits.stopGradient(), temperature);
        NDArray logStudent = logProbabilities(step, studentLogits, temperature);
        NDArray perPosition = logTeacher.exp().mul(logTeacher.sub(logStudent)).sum(new int[] {2});
        NDArray weights = Djl.fromDoubles(step, valid, new Shape(b, t - 1), type);
        return timesTemperatureSquared(step, perPosition.mul(weights).sum(new int[] {1}), temperature);
    }

    /** Refuses a temperature that is not a positive finite number. */
    public static void requireTemperature(double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("distillation temperature must be a positive number, got "
                    + temperature);
        }
    }

    /**
     * log softmax(z/τ) of the positions that predict a next token (all but the last), in at least float32:
     * [batch, time-1, vocab]. Shared by the loss and by the teacher's precomputed targets, so both see the same
     * distribution.
     */
    public static NDArray logProbabilities(NDManager step, NDArray logits, double temperature) {
        DataType type = lossType(logits);
        NDArray z = Djl.withoutLastPosition(logits);
        if (temperature == 1.0) {
            return Djl.logSoftmax(z, -1, type); // upcast inside the op (toType would detach: P4)
        }
        // P1: the scalar is an array on the step manager, alive until the caller's backward is done.
        return Djl.cast(z, type).div(Djl.scalar(step, temperature, type)).logSoftmax(-1);
    }

    /** The flat index, in [batch][time-1] order, of the {@code j}-th scored position of row {@code row}. */
    public static int scoredPosition(int row, int length, int promptLength, int j) {
        return row * (length - 1) + Math.max(1, promptLength) + j - 1;
    }

    private static NDArray timesTemperatureSquared(NDManager step, NDArray rows, double temperature) {
        return temperature == 1.0 ? rows : rows.mul(Djl.scalar(step, temperature * temperature, rows.getDataType()));
    }

    private static DataType lossType(NDArray logits) {
        return logits.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    }

    /** Summed τ²·KL over the whole batch, a scalar on {@code step}. */
    public static NDArray sum(NDManager step, NDArray studentLogits, NDArray teacherLogits, TokenBatch batch,
                              double temperature) {
        return rowSums(step, studentLogits, teacherLogits, batch, temperature).sum();
    }

    /** The positions a sample of {@code tokens} tokens is scored at: every t >= max(1, prompt) predicted from t-1. */
    public static int scoredPositions(int tokens, int promptLength) {
        return Math.max(0, tokens - Math.max(1, promptLength));
    }

    /**
     * Per-row summed τ²·KL(q || p_S) against precomputed top-k teacher targets, shape [batch]: q is the teacher's
     * distribution restricted to its k most likely tokens and renormalised, p_S = softmax(z_S/τ) over the whole
     * vocabulary. {@code tokens} and {@code logProbs} are [batch][time-1][k] flattened; positions where
     * {@code scored} is 0 contribute nothing. With k equal to the vocabulary this is {@link #rowSums} exactly.
     */
    public static NDArray topKRowSums(NDManager step, NDArray studentLogits, long[] tokens, double[] logProbs,
                                      double[] scored, int k, double temperature) {
        requireTemperature(temperature);
        long[] shape = studentLogits.getShape().getShape();
        int b = Math.toIntExact(shape[0]);
        int t = Math.toIntExact(shape[1]);
        DataType type = lossType(studentLogits);
        if (t < 2) {
            return step.zeros(new Shape(b), type);
        }
        int positions = b * (t - 1);
        if (tokens.length != (long) positions * k || logProbs.length != tokens.length || scored.length != positions) {
            throw new IllegalArgumentException("top-k targets hold " + tokens.length + " entries for " + positions
                    + " positions of k = " + k);
        }
        // The teacher's part is constant: renormalise on the host in float64.
        double[] q = new double[logProbs.length];
        double[] logQ = new double[logProbs.length];
        for (int p = 0; p < positions; p++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, logProbs[p * k + j]);
            }
            double sum = 0;
            for (int j = 0; j < k; j++) {
                sum += Math.exp(logProbs[p * k + j] - max);
            }
            double logSum = max + Math.log(sum);
            for (int j = 0; j < k; j++) {
                logQ[p * k + j] = logProbs[p * k + j] - logSum;
                q[p * k + j] = scored[p] == 0 ? 0 : Math.exp(logQ[p * k + j]);
            }
        }
        NDArray logStudent = logProbabilities(step, studentLogits, temperature)
                .gather(step.create(tokens, new Shape(b, t - 1, k)), 2);
        NDArray weights = Djl.fromDoubles(step, q, new Shape(b, t - 1, k), type);
        NDArray constant = Djl.fromDoubles(step, logQ, new Shape(b, t - 1, k), type);
        return timesTemperatureSquared(step, weights.mul(constant.sub(logStudent)).sum(new int[] {1, 2}),
                temperature);
    }
}
