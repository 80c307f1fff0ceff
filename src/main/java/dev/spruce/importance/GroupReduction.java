package dev.spruce.importance;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How the aligned member vectors of a group combine, element-wise, into one vector (llm-pruner.md §2.5,
 * {@code --grouping_strategy}). The reference's {@code second} (second member in traversal order) is left out on
 * purpose: that order is an artefact of its graph walk.
 */
public enum GroupReduction {
    SUM,
    MEAN,
    MAX,
    PROD,
    /**
     * The root member only: q rows for MHA attention ({@code hf_prune.py} roots at {@code q_proj}), k rows for GQA
     * attention ({@code llama3.py} roots at {@code k_proj}), gate rows for MLP, and layer 0's
     * {@code input_layernorm} for hidden channels (the first RMSNorm root in module order).
     */
    FIRST;

    /** The reference's spelling, e.g. {@code sum}. */
    public String referenceName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a reference name ({@code sum}, {@code mean}, {@code max}, {@code prod}, {@code first}). */
    public static GroupReduction parse(String name) {
        for (GroupReduction r : values()) {
            if (r.referenceName().equals(name == null ? null : name.trim().toLowerCase(Locale.ROOT))) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown group reduction '" + name + "', expected one of "
                + Arrays.stream(values()).map(GroupReduction::referenceName).collect(Collectors.joining(", ")));
    }
}
