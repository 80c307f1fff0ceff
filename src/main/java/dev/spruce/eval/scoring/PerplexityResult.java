package dev.spruce.eval.scoring;

import java.io.Serializable;

/**
 * A sum of per-token negative log-likelihoods and the number of tokens summed. Results of disjoint shards add
 * up ({@link #plus}) to the result of the whole corpus, so executors can report partial sums.
 */
public record PerplexityResult(double sumNll, long count) implements Serializable {
    public static final PerplexityResult EMPTY = new PerplexityResult(0.0, 0);

    public PerplexityResult {
        if (count < 0) {
            throw new IllegalArgumentException("token count must not be negative, got " + count);
        }
    }

    public PerplexityResult plus(PerplexityResult other) {
        return new PerplexityResult(sumNll + other.sumNll, count + other.count);
    }

    public double meanNll() {
        if (count == 0) {
            throw new IllegalStateException("no token was scored, so the mean negative log-likelihood is undefined");
        }
        return sumNll / count;
    }

    /** exp(mean NLL over all scored tokens). */
    public double perplexity() {
        return Math.exp(meanNll());
    }
}
