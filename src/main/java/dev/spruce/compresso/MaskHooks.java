package dev.spruce.compresso;

import ai.djl.ndarray.NDArray;
import dev.spruce.model.ForwardHooks;
import java.util.Map;

/**
 * Compresso's masks as hooks: heads (a kv group's value repeated over its query heads), MLP channels and the
 * hidden vector, each already in the model's compute type; combined with LoRA's by
 * {@link ForwardHooks#adaptersWithMasks}. RMSNorm averages over the full width, as in the reference's masked model.
 */
final class MaskHooks implements ForwardHooks {
    private final Map<Integer, NDArray> heads;
    private final Map<Integer, NDArray> ffn;
    private final NDArray hidden;

    MaskHooks(Map<Integer, NDArray> heads, Map<Integer, NDArray> ffn, NDArray hidden) {
        this.heads = heads;
        this.ffn = ffn;
        this.hidden = hidden;
    }

    @Override
    public NDArray headMask(int layer) {
        return heads.get(layer);
    }

    @Override
    public NDArray mlpMask(int layer) {
        return ffn.get(layer);
    }

    @Override
    public NDArray hiddenMask() {
        return hidden;
    }

    @Override
    public boolean hiddenNormOverKept() {
        return false;
    }
}
