package dev.spruce.memory;

import dev.spruce.model.LlamaConfig;

/**
 * Bytes of the arrays one forward pass of {@code LlamaModel} creates, per token. DJL keeps every intermediate of
 * a micro-batch on its step manager until the manager closes, so all layers' arrays are alive at once, with or
 * without autograd (evaluation and the teacher included). Counted array by array from the forward; c is the
 * compute width, n the width of what runs in at least float32 (norms, attention scores, log-softmax).
 */
final class Activations {
    private final LlamaConfig config;
    private final Precision p;

    Activations(LlamaConfig config, Precision p) {
        this.config = config;
        this.p = p;
    }

    /**
     * RMSNorm of a d-wide row: the widened copy (half only), x², x/rms, the narrowed copy (half only) and the
     * product with the weight.
     */
    long norm() {
        long c = p.bytes();
        long n = p.wide();
        return config.hiddenSize() * (2 * n + c + (p.half() ? n + c : 0));
    }

    /**
     * One attention block per token, without the scores: q (projection, negated half, concatenation, two
     * products and the sum of RoPE: 5.5 q-widths), the same for k (5.5 kv), v (kv), the contiguous copy of the
     * context (q wide), o_proj and the residual sum (2 d).
     */
    long attention(int l) {
        long c = p.bytes();
        long q = (long) config.layerHeads(l) * config.headDim();
        long kv = (long) config.layerKvHeads(l) * config.headDim();
        return norm() + c * (11 * q + 13 * kv) / 2 + c * (q + 2L * config.hiddenSize());
    }

    /**
     * Attention scores of layer l per (query token, key token): q·kᵀ in c, its wide copy (half only), the scaled,
     * the masked and the softmaxed scores in n, and the narrowed probabilities (half only).
     */
    long scores(int l) {
        long c = p.bytes();
        long n = p.wide();
        return config.layerHeads(l) * (c + 3 * n + (p.half() ? n + c : 0));
    }

    /** One SwiGLU block per token: gate, up, sigmoid(gate), gate·sigmoid, ·up (5 i), down_proj and the residual sum. */
    long mlp(int l) {
        long c = p.bytes();
        return norm() + c * (5L * config.layerIntermediate(l) + 2L * config.hiddenSize());
    }

    /** Everything of layer l per token, for a sequence of {@code t} keys. */
    long layer(int l, long t) {
        long bytes = 0;
        if (config.layerHeads(l) > 0) {
            bytes += attention(l) + scores(l) * t;
        }
        if (config.layerIntermediate(l) > 0) {
            bytes += mlp(l);
        }
        return bytes;
    }

    /**
     * The whole forward without the logits for b sequences of t tokens: embedding, every layer, the final norm,
     * plus the shared attention bias (b·t·t·n) and RoPE tables (2·b·t·head_dim·c), and {@code perTokenExtra}
     * (LoRA's arrays).
     */
    long forward(long b, long t, long perTokenExtra) {
        long perToken = (long) config.hiddenSize() * p.bytes() + norm() + perTokenExtra;
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            perToken += layer(l, t);
        }
        return b * t * perToken + b * t * t * p.wide() + 2 * b * t * config.headDim() * p.bytes();
    }

    /** The largest layer per token (a backward pass has about one layer's gradients in flight). */
    long largestLayer(long t) {
        long max = 0;
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            max = Math.max(max, layer(l, t));
        }
        return max;
    }

    /** Logits per token: the LM head's output in c, its wide copy (half only) and the log-softmax in n. */
    long logits() {
        return (long) config.vocabSize() * (p.bytes() + p.wide() + (p.half() ? p.wide() : 0));
    }

    /** The gradient of the logits per token: of the log-softmax (n) and of the LM head's output (c). */
    long logitsGradient() {
        return (long) config.vocabSize() * (p.wide() + p.bytes());
    }
}
