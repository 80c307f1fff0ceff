package dev.spruce.importance;

/**
 * How the q/o member vectors (one value per query channel, {@code heads·head_dim}) are folded onto the
 * {@code kv_heads·head_dim} channels of a GQA kv group (llm-pruner.md §1.8, §2.5 step 2). Irrelevant for MHA,
 * where the lengths are equal.
 */
public enum GqaFold {
    /**
     * Query head {@code g·n_rep + j}, offset {@code i}, goes to kv group {@code g}, offset {@code i}: the query
     * heads that are actually removed with kv head {@code g}.
     */
    CORRECT,
    /**
     * {@code llama3.py}'s fold, for parity runs: view the vector as {@code [n_rep, kv_heads·head_dim]} and sum
     * the first axis, so kv head {@code g} collects query heads {@code g, g+kv_heads, g+2·kv_heads, ...}.
     */
    REFERENCE_STRIDED
}
