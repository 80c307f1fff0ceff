package dev.spruce.compresso;

import dev.spruce.model.LlamaConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The expected parameter count of the model the masks would leave, in factorised form. Masks are independent,
 * so the expectation of a product is the product of expectations: with D = Σ_d P(z_hid[d] > 0) (or d when hidden
 * dimensions are not masked), a kv group of layer l carries (2·n_rep + 2)·head_dim·D weights (its q, k, v rows
 * and o columns), an MLP channel 3·D (gate and up rows, a down column), and every norm, the embeddings and an
 * untied LM head one row or column per hidden dimension. So E[N] = D · C with C the expected count per hidden
 * dimension, O(d + L·d_ff) per evaluation where the reference's outer products are O(d · L · d_ff). With every
 * keep probability 1 the result is {@link LlamaConfig#parameterCount()}.
 */
public final class ExpectedSize {
    private final MaskLayout layout;

    public ExpectedSize(MaskLayout layout) {
        this.layout = layout;
    }

    /** E[N] and its gradient with respect to every mask logit. */
    public record Value(double expected, Map<String, double[]> gradient) {}

    /** The count the reference calls prunable: the attention and MLP weights of the layers in the band. */
    public long prunableCount() {
        LlamaConfig c = layout.config();
        long n = 0;
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            if (layout.settings().layers().contains(l)) {
                n += c.layerParameterCount(l) - 2L * c.hiddenSize();
            }
        }
        return n;
    }

    /** The whole model: embeddings, norms, layers and an untied LM head. */
    public long fullCount() {
        return layout.config().parameterCount();
    }

    /** E[N] under the given logits (every mask vector of the layout, by name). */
    public double expected(Map<String, double[]> logits) {
        return evaluate(logits, false).expected();
    }

    /** E[N] and d E[N] / d log_alpha for every mask vector. */
    public Value evaluate(Map<String, double[]> logits, boolean withGradient) {
        HardConcrete hc = layout.settings().hardConcrete();
        Map<String, double[]> keep = new LinkedHashMap<>();
        for (String name : layout.names()) {
            double[] a = values(logits, name);
            double[] p = new double[a.length];
            for (int i = 0; i < a.length; i++) {
                p[i] = hc.keepProbability(a[i]);
            }
            keep.put(name, p);
        }
        return fromKeepProbabilities(keep, withGradient);
    }

    /** E[N] from keep probabilities P(z > 0) (every mask vector, by name); the gradient is still by logit. */
    public Value fromKeepProbabilities(Map<String, double[]> keep, boolean withGradient) {
        LlamaConfig c = layout.config();
        for (String name : layout.names()) {
            values(keep, name);
        }
        double hiddenKept = keep.containsKey(MaskLayout.HIDDEN) ? sum(keep.get(MaskLayout.HIDDEN)) : c.hiddenSize();
        long headDim = c.headDim();
        double perHidden = (double) c.vocabSize() * (c.tieWordEmbeddings() ? 1 : 2) + 1; // embeddings, final norm
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            double[] groups = keep.get(MaskLayout.heads(l));
            double attention = groups == null
                    ? 2.0 * (c.layerHeads(l) + c.layerKvHeads(l)) * headDim
                    : (2.0 * c.groupSize(l) + 2) * headDim * sum(groups);
            double[] channels = keep.get(MaskLayout.ffn(l));
            double mlp = 3.0 * (channels == null ? c.layerIntermediate(l) : sum(channels));
            perHidden += attention + mlp + 2;
        }
        double expected = hiddenKept * perHidden;
        Map<String, double[]> gradient = new LinkedHashMap<>();
        if (withGradient) {
            for (String name : layout.names()) {
                double[] p = keep.get(name);
                double dp;
                if (name.equals(MaskLayout.HIDDEN)) {
                    dp = perHidden;
                } else if (MaskLayout.headsLayer(name) >= 0) {
                    dp = (2.0 * c.groupSize(MaskLayout.headsLayer(name)) + 2) * headDim * hiddenKept;
                } else {
                    dp = 3.0 * hiddenKept;
                }
                double[] g = new double[p.length];
                for (int i = 0; i < p.length; i++) {
                    g[i] = dp * p[i] * (1 - p[i]); // dP/dlog_alpha = P(1 - P) for the shifted sigmoid
                }
                gradient.put(name, g);
            }
        }
        return new Value(expected, gradient);
    }

    private double[] values(Map<String, double[]> byName, String name) {
        double[] a = byName.get(name);
        if (a == null || a.length != layout.masks().get(name)) {
            throw new IllegalArgumentException("expected size: mask '" + name + "' needs " + layout.masks().get(name)
                    + " values, got " + (a == null ? "none" : a.length));
        }
        return a;
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s;
    }
}
