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

    /**
     * Shape [hidden size]: scales the embedding output and every attention and MLP output before the residual
     * add; RMSNorm then averages over the kept mass or the full width, see {@link #hiddenNormOverKept()}.
     */
    default NDArray hiddenMask() {
        return null;
    }

    /**
     * Under a hidden mask, true (the default) makes RMSNorm divide the sum of squares by the mask's sum, which
     * equals slicing the channels away (LLM-Pruner's channel mode); false keeps the plain mean over the full
     * hidden width, as Compresso's masked model does (its pruned model rescales every RMSNorm weight by
     * sqrt(d / d_kept) instead). Without a hidden mask both are the plain mean.
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

    /**
     * One set of hooks from two: the linear adaptation and training flag of {@code adapters} (LoRA), every
     * mask and the RMSNorm rule of {@code masks}, so adapters and learned masks run in one forward pass.
     */
    static ForwardHooks adaptersWithMasks(ForwardHooks adapters, ForwardHooks masks) {
        return new ForwardHooks() {
            @Override
            public NDArray adaptLinear(String weightName, NDArray input, NDArray output) {
                return adapters.adaptLinear(weightName, input, output);
            }

            @Override
            public NDArray headMask(int layer) {
                return masks.headMask(layer);
            }

            @Override
            public NDArray mlpMask(int layer) {
                return masks.mlpMask(layer);
            }

            @Override
            public NDArray hiddenMask() {
                return masks.hiddenMask();
            }

            @Override
            public boolean hiddenNormOverKept() {
                return masks.hiddenNormOverKept();
            }

            @Override
            public NDArray attentionLayerMask(int layer) {
                return masks.attentionLayerMask(layer);
            }

            @Override
            public NDArray mlpLayerMask(int layer) {
                return masks.mlpLayerMask(layer);
            }

            @Override
            public boolean training() {
                return adapters.training();
            }
        };
    }
}
