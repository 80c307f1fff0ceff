package dev.spruce.importance;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * LLM-Pruner's importance criteria (llm-pruner.md §2.4), named as the reference's {@code --pruner_type} /
 * {@code --taylor} values. The Taylor criteria need per-sample gradients from the calibration set (§2.2,
 * §2.3); the magnitude criteria and {@code random} need only the weights.
 */
public enum Criterion {
    /** Uniform [0,1) per root channel ({@code torch.rand}); ignores weights and gradients. */
    RANDOM("random"),
    /** S = |W|. */
    L1("l1"),
    /** S = W² (squared, no root). */
    L2("l2"),
    /** S = W ⊙ g, reduced by a sign-cancelling sum and then |·| (the paper's vector-wise first-order term). */
    VECTORIZE("vectorize"),
    /** S = W ⊙ g, reduced by Σ|·| (the paper's Element¹; the reference's default). */
    PARAM_FIRST("param_first"),
    /** S = W ⊙ F ⊙ W with F the empirical Fisher diagonal. */
    PARAM_SECOND("param_second"),
    /** S = W ⊙ g − ½·W ⊙ F ⊙ W (sign as fixed in reference commit 663d966, issue #28). */
    PARAM_MIX("param_mix");

    private final String referenceName;

    Criterion(String referenceName) {
        this.referenceName = referenceName;
    }

    /** The reference's spelling, e.g. {@code param_first}; also what {@link ImportanceScores} records. */
    public String referenceName() {
        return referenceName;
    }

    /** True when the executors must accumulate G = Σₙ gₙ, the sum of per-sample gradients. */
    public boolean needsGradients() {
        return this == VECTORIZE || this == PARAM_FIRST || this == PARAM_MIX;
    }

    /** True when the executors must accumulate Q = Σₙ gₙ ⊙ gₙ, the sum of squared per-sample gradients. */
    public boolean needsSquaredGradients() {
        return this == PARAM_SECOND || this == PARAM_MIX;
    }

    /** True for the gradient-based (Taylor) criteria. */
    public boolean isTaylor() {
        return needsGradients() || needsSquaredGradients();
    }

    /**
     * The reference's member reduction (§2.5): {@code --grouping_strategy}, default {@code sum}, reaches only the
     * Taylor class; magnitude importance is fixed at {@code mean}. {@code random} has no members, so its value is
     * never used.
     */
    public GroupReduction defaultGroupReduction() {
        return isTaylor() ? GroupReduction.SUM : GroupReduction.MEAN;
    }

    /** Parses a reference name ({@code param_first}, {@code l2}, ...), case-insensitively. */
    public static Criterion parse(String name) {
        for (Criterion c : values()) {
            if (c.referenceName.equals(name == null ? null : name.trim().toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown importance criterion '" + name + "', expected one of "
                + Arrays.stream(values()).map(Criterion::referenceName).collect(Collectors.joining(", ")));
    }
}
