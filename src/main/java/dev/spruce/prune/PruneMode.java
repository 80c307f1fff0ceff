package dev.spruce.prune;

import dev.spruce.scope.InvalidPlanException;
import java.util.Locale;

/** How removals are distributed over the pruned layers. */
public enum PruneMode {
    /** The reference default: the same ratio inside every pruned layer (LLM-Pruner paper results). */
    LOCAL,
    /**
     * The reference {@code --global_pruning}: one threshold over all unit scores of all pruned layers. Head and
     * channel scores have different scales, so this is not what the paper's results use.
     */
    GLOBAL,
    /** Beyond the reference: remove the cheapest units per parameter until the model fits a parameter budget. */
    BUDGET;

    /** The name used on the command line and in plan files. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static PruneMode parse(String text) {
        for (PruneMode m : values()) {
            if (m.label().equalsIgnoreCase(text.trim())) {
                return m;
            }
        }
        throw new InvalidPlanException("mode '" + text + "' is not one of local, global, budget");
    }
}
