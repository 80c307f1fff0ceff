package dev.spruce.compresso;

import ai.djl.ndarray.NDArray;
import dev.spruce.model.ForwardHooks;
import java.util.Map;

/**
 * LoRA's hooks with Compresso's masks: heads (a kv group's value repeated over its query heads), MLP channels and
 * the hidden vector, each already in the model's compute type. RMSNorm averages over the full width, as in the
 * reference's masked model.
 */
final class MaskHooks implements ForwardHooks {
    private final ForwardHooks lora;
    private final Map<Integer, NDArray> heads;
    private final Map<Integer, NDArray> ffn;
    private final NDArray hidden;

    MaskHooks(ForwardHooks lora, Map<Integer, NDArray> heads, Map<Integer, NDArray> ffn, NDArray hidden) {
        this.lora = lora;
        this.heads = heads;
        this.ffn = ffn;
        this.hidden = hidden;
    }

    @Override
    public NDArray adaptLinear(String weightName, NDArray input, NDArray output) {
        return lora.adaptLinear(weightName, input, output);
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

    @Override
    public boolean training() {
        return lora.training();
    }
}
