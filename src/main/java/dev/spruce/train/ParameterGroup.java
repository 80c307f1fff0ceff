package dev.spruce.train;

import java.io.Serializable;

/**
 * How the driver's optimizer treats one parameter: its learning rate, weight decay, whether the run's schedule
 * and gradient clipping apply, the direction (ascent maximises, as Compresso's Lagrange multipliers do) and the
 * first step it is updated at. Each group keeps its own AdamW step count, so a group that starts late gets the
 * bias correction of a fresh optimizer, as if created at its first step.
 *
 * @param learningRate the rate, or NaN for the run's {@code train.learning-rate}
 * @param scheduled    follow the run's warm-up and decay (false: constant rate)
 * @param weightDecay  decoupled weight decay, or NaN for the run's {@code train.weight-decay}
 * @param clipped      counted in, and scaled by, {@code train.max-grad-norm}
 * @param ascent       gradient ascent instead of descent
 * @param firstStep    the first optimizer step (1-based) that updates the parameter
 */
public record ParameterGroup(String label, double learningRate, boolean scheduled, double weightDecay,
                             boolean clipped, boolean ascent, long firstStep) implements Serializable {
    /** The run's settings: the adapters of LoRA recovery, every weight of full training. */
    public static final ParameterGroup MAIN = new ParameterGroup("main", Double.NaN, true, Double.NaN, true, false, 1);

    public ParameterGroup {
        if (!Double.isNaN(learningRate) && !(learningRate >= 0 && Double.isFinite(learningRate))) {
            throw new IllegalArgumentException(label + ": learning rate must be a finite number >= 0, got "
                    + learningRate);
        }
        if (!Double.isNaN(weightDecay) && !(weightDecay >= 0 && Double.isFinite(weightDecay))) {
            throw new IllegalArgumentException(label + ": weight decay must be >= 0, got " + weightDecay);
        }
        if (firstStep < 1) {
            throw new IllegalArgumentException(label + ": first step must be >= 1, got " + firstStep);
        }
    }

    /** The signed rate of step {@code step} given the run's scheduled rate and base rate. */
    double rate(double scheduledRunRate, double runRate) {
        double r;
        if (Double.isNaN(learningRate)) {
            r = scheduled ? scheduledRunRate : runRate; // the run's own rate, bit for bit
        } else {
            r = scheduled ? (runRate == 0 ? 0 : learningRate * (scheduledRunRate / runRate)) : learningRate;
        }
        return ascent ? -r : r;
    }

    double decay(double runDecay) {
        return Double.isNaN(weightDecay) ? runDecay : weightDecay;
    }

    boolean active(long step) {
        return step >= firstStep;
    }
}
