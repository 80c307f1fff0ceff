package dev.spruce.eval.tasks;

import java.io.Serializable;

/**
 * One forward pass of the perplexity protocol: the model reads {@code ids}, and the token at every position
 * {@code p >= firstScored} is scored given the tokens before it (the logits at {@code p - 1}). Positions before
 * {@code firstScored} are context only.
 */
public record PerplexityWindow(int[] ids, int firstScored) implements Serializable {
    public PerplexityWindow {
        if (firstScored < 1 || firstScored >= ids.length) {
            throw new IllegalArgumentException("firstScored must be in [1, " + (ids.length - 1) + "] for a window of "
                    + ids.length + " tokens, got " + firstScored);
        }
        ids = ids.clone();
    }

    /** The number of tokens this window scores. */
    public int predictedTokens() {
        return ids.length - firstScored;
    }
}
