package dev.spruce.prune;

import dev.spruce.scope.InvalidPlanException;

/**
 * What RMSNorm averaged over in the masked model a plan was learned on, when hidden channels are removed. It
 * decides whether the pruned model's RMSNorm weights must be rescaled to compute what the masked model did.
 */
public enum HiddenNorm {
    /**
     * The mean of squares over the kept channels only (LLM-Pruner's channel mode, spruce's default masked
     * forward): slicing the channels away computes the same, nothing is rescaled.
     */
    KEPT_MASS("kept_mass"),
    /**
     * The mean over the full width d, removed channels counting as zeros (Compresso): every RMSNorm weight of
     * the pruned model is multiplied by sqrt(d / d_kept), exact up to the epsilon, which becomes eps·d_kept/d.
     */
    FULL_WIDTH("full_width");

    private final String label;

    HiddenNorm(String label) {
        this.label = label;
    }

    /** The name in {@code plan.json}. */
    public String label() {
        return label;
    }

    public static HiddenNorm parse(String text) {
        for (HiddenNorm n : values()) {
            if (n.label.equals(text)) {
                return n;
            }
        }
        throw new InvalidPlanException("hidden_norm '" + text + "' is not one of kept_mass, full_width");
    }
}
