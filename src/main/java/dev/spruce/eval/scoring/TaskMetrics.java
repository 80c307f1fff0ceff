package dev.spruce.eval.scoring;

import dev.spruce.eval.tasks.McMetric;

/**
 * The accuracies of one task as fractions in [0, 1], with their standard errors (sample standard deviation of
 * the per-document correctness over the square root of the document count, as the harness computes them; NaN
 * for a single document). {@code accNorm} and {@code accNormStderr} are null for tasks where the harness
 * defines no acc_norm (BoolQ, WinoGrande).
 */
public record TaskMetrics(String task, McMetric reportedMetric, int docs, double acc, double accStderr,
                          Double accNorm, Double accNormStderr) {
    public TaskMetrics {
        if (reportedMetric == McMetric.ACC_NORM && accNorm == null) {
            throw new IllegalArgumentException("task " + task + " reports acc_norm but has none");
        }
    }

    /** The value of the metric the paper reports for this task. */
    public double reported() {
        return reportedMetric == McMetric.ACC ? acc : accNorm;
    }

    public double reportedStderr() {
        return reportedMetric == McMetric.ACC ? accStderr : accNormStderr;
    }
}
