package dev.spruce.train;

import java.io.Serializable;

/**
 * What tasks return and the reduction adds up: per-parameter gradient sums of the summed token NLL (null for a
 * forward-only job or a task without samples), the summed NLL, predicted tokens and samples, and the
 * longest task compute time (the step's critical path). Gradients are float64, or float32 in a partial that
 * crossed the network as {@link Traffic#FLOAT32}; every sum is made in float64. A plain class, not a record:
 * Kryo moves it.
 */
public final class StepTotals implements Serializable {
    private static final long serialVersionUID = 2L;

    double[][] gradients;
    float[][] narrowGradients;
    double loss;
    long tokens;
    long samples;
    double computeSeconds;

    StepTotals(double[][] gradients, double loss, long tokens, long samples, double computeSeconds) {
        this.gradients = gradients;
        this.loss = loss;
        this.tokens = tokens;
        this.samples = samples;
        this.computeSeconds = computeSeconds;
    }

    /** Nothing yet: the neutral element of {@link #add}. */
    public static StepTotals empty() {
        return new StepTotals(null, 0, 0, 0, 0);
    }

    /**
     * Adds {@code other} into this and returns it, in float64: a float32 partial is widened exactly first. The
     * first float64 gradients added are taken over, not copied (their partial is consumed by the sum).
     */
    public StepTotals add(StepTotals other) {
        if (other.gradients != null || other.narrowGradients != null) {
            if (gradients == null && narrowGradients == null) {
                gradients = other.gradients != null ? other.gradients : FloatArrays.widen(other.narrowGradients);
            } else {
                if (gradients == null) {
                    gradients = FloatArrays.widen(narrowGradients);
                    narrowGradients = null;
                }
                if (other.gradients != null) {
                    FloatArrays.addInto(gradients, other.gradients);
                } else {
                    FloatArrays.addInto(gradients, other.narrowGradients);
                }
            }
        }
        loss += other.loss;
        tokens += other.tokens;
        samples += other.samples;
        computeSeconds = Math.max(computeSeconds, other.computeSeconds);
        return this;
    }

    /** This, its gradients rounded to float32 to cross the network as {@link Traffic#FLOAT32}. */
    StepTotals narrowed() {
        if (gradients != null) {
            narrowGradients = FloatArrays.narrow(gradients);
            gradients = null;
        }
        return this;
    }

    /** This as it crosses the network with {@code traffic}. */
    StepTotals shipped(Traffic traffic) {
        return traffic == Traffic.FLOAT32 ? narrowed() : this;
    }

    /**
     * Gradient sums per parameter in {@link Trainable#shapes()} order (float32 partials widened), or null when no
     * sample had gradients.
     */
    public double[][] gradients() {
        return narrowGradients != null ? FloatArrays.widen(narrowGradients) : gradients;
    }

    /** Whether the gradients are held as float32. */
    boolean isNarrow() {
        return narrowGradients != null;
    }

    /** Summed token NLL. */
    public double loss() {
        return loss;
    }

    public long tokens() {
        return tokens;
    }

    public long samples() {
        return samples;
    }

    public double computeSeconds() {
        return computeSeconds;
    }
}
