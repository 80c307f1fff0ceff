package dev.spruce.memory;

import java.util.List;

/** A stage's settings that decide its memory: estimated for an executor shape, and varied for suggestions. */
public interface StagePlan {
    /** importance, recover or evaluate. */
    String stage();

    /** One line of the settings that matter, for the table and the message. */
    String describe();

    Estimate estimate(ExecutorShape shape);

    /**
     * Cheaper variants of these settings, each named by the change a user makes ({@code calibration.micro-batch
     * = 2}); {@link MemoryCheck} keeps the ones that fit. {@code fits} re-estimates a candidate.
     */
    List<Alternative> alternatives(ExecutorShape shape, java.util.function.Predicate<StagePlan> fits);

    /** A change of settings and the plan it gives. */
    record Alternative(String change, StagePlan plan) {}

    /**
     * The largest value in 1..{@code current - 1} for which {@code fits} holds (the estimate grows with it), or 0.
     * Bisection on the formula: every term is linear or quadratic in a micro-batch, so it is monotone.
     */
    static int largestFitting(int current, java.util.function.IntPredicate fits) {
        int lo = 0;
        int hi = current - 1;
        while (lo < hi) {
            int mid = (int) (((long) lo + hi + 1) / 2);
            if (fits.test(mid)) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo >= 1 && fits.test(lo) ? lo : 0;
    }
}
