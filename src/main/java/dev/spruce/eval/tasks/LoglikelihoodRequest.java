package dev.spruce.eval.tasks;

import java.io.Serializable;
import java.util.Arrays;

/**
 * The token ids of one choice of one document. The model reads {@link #inputIds()} (context and continuation
 * without the continuation's last token); the logits at positions {@code firstPredictingPosition() + k} give the
 * log-probability of {@code continuationIds[k]}, and their sum is the choice's log-likelihood.
 */
public record LoglikelihoodRequest(String docKey, int choiceIndex, int[] contextIds, int[] continuationIds)
        implements Serializable {
    public LoglikelihoodRequest {
        if (contextIds.length == 0 || continuationIds.length == 0) {
            throw new IllegalArgumentException(docKey + " choice " + choiceIndex
                    + ": context and continuation both need at least one token");
        }
        contextIds = contextIds.clone();
        continuationIds = continuationIds.clone();
    }

    public int[] inputIds() {
        int[] input = Arrays.copyOf(contextIds, contextIds.length + continuationIds.length - 1);
        System.arraycopy(continuationIds, 0, input, contextIds.length, continuationIds.length - 1);
        return input;
    }

    /** The input position whose logits predict the first continuation token. */
    public int firstPredictingPosition() {
        return contextIds.length - 1;
    }
}
