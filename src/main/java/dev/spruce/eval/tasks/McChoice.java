package dev.spruce.eval.tasks;

import java.io.Serializable;

/**
 * One answer option as a log-likelihood request: the model reads {@code context} and the option is scored by
 * the summed log-probability of {@code continuation}. {@code normText} is the text whose character count
 * normalizes acc_norm: the raw choice without the space that precedes it in the continuation.
 */
public record McChoice(String context, String continuation, String normText) implements Serializable {
    public McChoice {
        if (context == null || continuation == null || normText == null) {
            throw new IllegalArgumentException("context, continuation and normText must not be null");
        }
        if (continuation.isEmpty()) {
            throw new IllegalArgumentException("the continuation must not be empty (context: '" + context + "')");
        }
    }
}
