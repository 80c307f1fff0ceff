package dev.spruce.train;

import java.util.List;
import java.util.Map;

/**
 * A part of the objective that depends only on trained parameters, never on data: the driver computes it
 * exactly and adds its gradient to the executors' (already normalised per predicted token) before clipping and
 * the update. Compresso's Lagrangian size constraint is one. It also names extra {@code metrics.csv} columns,
 * keeps parameters in their domain after each update, and may draw charts of its own.
 */
public interface DriverTerm {
    /** Extra metrics columns, in order; their values come from {@link Contribution#metrics()}. */
    List<String> columns();

    /**
     * The term at optimizer step {@code step} (1-based): adds its gradient into {@code gradients} in place.
     *
     * @param parameters current values by name (read only)
     * @param gradients  the step's gradients by name, live: the term adds to them
     */
    Contribution apply(long step, Map<String, double[]> parameters, Map<String, double[]> gradients);

    /** Called after every update with the new values, live: e.g. clamps logits into their range. */
    default void afterUpdate(long step, Map<String, double[]> parameters) {}

    /** One line appended to the step's log line. */
    default String describe(Contribution c) {
        return "";
    }

    /** Charts written beside {@code loss.png} at every checkpoint: file name to PNG bytes. */
    default Map<String, byte[]> charts(TrainingMetrics metrics, Map<String, double[]> parameters) {
        return Map.of();
    }

    /** The term's value (added to the logged loss) and its metrics in {@link #columns()} order. */
    record Contribution(double value, double[] metrics) {}
}
