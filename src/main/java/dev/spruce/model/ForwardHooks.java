package dev.spruce.model;

import ai.djl.ndarray.NDArray;

/**
 * Optional parameters of the one forward pass: LoRA adapters and multiplicative masks. Each returns null
 * (or the unchanged output) when it does not apply, so the plain model is {@link #NONE}.
 *
 * <p>Masks are arrays in the model's compute type; being ordinary arrays they may require gradients
 * (Compresso learns them). A binary mask gives exactly the logits of the physically pruned model.
 */
public interface ForwardHooks {
    ForwardHooks NONE = new ForwardHooks() {};

    /**
     * Adjusts the output of the linear layer {@code weightName} (an HF name such as
     * {@code model.layers.3.self_attn.q_proj.weight}) given its input; LoRA adds its low-rank update here.
     */
    default NDArray adaptLinear(String weightName, NDArray input, NDArray output) {
        return output;
    }

    /** Shape [num heads of the layer]: scales each query head's attention output before o_proj. */
    default NDArray headMask(int layer) {
        return null;
    }

    /** Shape [intermediate size of the layer]: scales each SwiGLU channel before down_proj. */
    default NDArray mlpMask(int layer) {
        return null;
    }

    /** Shape [hidden size]: scales residual channels; RMSNorm then averages over the kept mass only. */
    default NDArray hiddenMask() {
        return null;
    }

    /**
     * Under a hidden mask, whether RMSNorm averages over the kept mass (true: equals slicing the channels away,
     * LLM-Pruner's channel mode) or over the full width (false: Compresso's masked model; the pruned model then
     * rescales its norm weights by sqrt(d / d_kept)).
     */
    default boolean hiddenNormOverKept() {
        return true;
    }

    /** A scalar scaling the whole attention block's output of a layer. */
    default NDArray attentionLayerMask(int layer) {
        return null;
    }

    /** A scalar scaling the whole MLP block's output of a layer. */
    default NDArray mlpLayerMask(int layer) {
        return null;
    }

    /** True while training: adapters apply dropout. */
    default boolean training() {
        return false;
    }
}
