package dev.spruce.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("distillation temperature must be a positive number, got "
                    + temperature);
        }
        if (!studentLogits.getShape().equals(teacherLogits.getShape())) {
            throw new IllegalArgumentException("student logits " + studentLogits.getShape() + " and teacher logits "
                    + teacherLogits.getShape() + " differ (teacher and student need the same vocabulary)");
        }
        if (batch.labels() == null) {
            throw new IllegalArgumentException("distillation needs labels to know which positions are scored");
        }
        int b = batch.batchSize();
        int t = batch.length();
        DataType type = studentLogits.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
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
        NDIndex shifted = new NDIndex(":, :-1, :");
        NDArray student = studentLogits.get(shifted);
        NDArray teacher = teacherLogits.get(shifted).stopGradient();
        if (student.getDataType() != type) {
            student = student.toType(type, false);
        }
        if (teacher.getDataType() != type) {
            teacher = teacher.toType(type, false);
        }
        // P1: scalars are arrays on the step manager, alive until the caller's backward is done.
        if (temperature != 1.0) {
            NDArray tau = Djl.scalar(step, temperature, type);
            student = student.div(tau);
            teacher = teacher.div(tau);
        }
        NDArray logTeacher = teacher.logSoftmax(-1);
        NDArray logStudent = student.logSoftmax(-1);
        NDArray perPosition = logTeacher.exp().mul(logTeacher.sub(logStudent)).sum(new int[] {2});
        NDArray weights = Djl.fromDoubles(step, valid, new Shape(b, t - 1), type);
        NDArray rows = perPosition.mul(weights).sum(new int[] {1});
        return temperature == 1.0 ? rows : rows.mul(Djl.scalar(step, temperature * temperature, type));
    }

    /** Summed τ²·KL over the whole batch, a scalar on {@code step}. */
    public static NDArray sum(NDManager step, NDArray studentLogits, NDArray teacherLogits, TokenBatch batch,
                              double temperature) {
        return rowSums(step, studentLogits, teacherLogits, batch, temperature).sum();
    }
}
