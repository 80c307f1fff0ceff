package dev.spruce.eval.tasks;

import com.fasterxml.jackson.annotation.JsonValue;

/** The two multiple-choice accuracies of lm-evaluation-harness. */
public enum McMetric {
    /** argmax of the summed continuation log-likelihood. */
    ACC("acc"),
    /** argmax of the summed log-likelihood divided by the choice's length in characters. */
    ACC_NORM("acc_norm");

    private final String label;

    McMetric(String label) {
        this.label = label;
    }

    @JsonValue
    public String label() {
        return label;
    }
}
