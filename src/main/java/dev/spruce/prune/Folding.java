package dev.spruce.prune;

import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import java.util.Arrays;

/**
 * What {@link PlanApplier} multiplies into the sliced tensors so that the pruned model computes what a masked
 * model computed (compresso.md, "Masks to a smaller model"): the RMSNorm rule of the masked model and the
 * surviving mask values. Values are indexed like the masks, over the source model's widths; values at removed
 * positions are ignored. A null array means every value is 1 (nothing folded).
 *
 * <ul>
 *   <li>{@code hidden[d]}: the hidden mask; folded into {@code embed_tokens} columns and the rows of every
 *       {@code o_proj} and {@code down_proj}. Refused with tied embeddings (the LM head is the same tensor).
 *   <li>{@code heads[l][h]}: the head mask of query head h of layer l (on GQA a kv group's value repeated for
 *       its n_rep heads); folded into that head's {@code o_proj} columns. A null layer entry folds nothing.
 *   <li>{@code channels[l][i]}: the MLP mask of channel i of layer l; folded into {@code down_proj} columns.
 * </ul>
 */
public record Folding(HiddenNorm hiddenNorm, double[] hidden, double[][] heads, double[][] channels) {

    public Folding {
        if (hiddenNorm == null) {
            throw new IllegalArgumentException("a folding needs its hidden_norm (kept_mass or full_width)");
        }
        hidden = hidden == null ? null : hidden.clone();
        heads = deepCopy(heads);
        channels = deepCopy(channels);
    }

    /** Only the RMSNorm rescale of Compresso's full-width norm; every surviving value taken as 1. */
    public static Folding fullWidthNorm() {
        return new Folding(HiddenNorm.FULL_WIDTH, null, null, null);
    }

    /**
     * The same norm rule with every surviving mask value dropped to 1: the pruned model then runs the binary
     * masks, not the fractional ones it was trained with, and the hidden fold is no longer needed (so tied
     * embeddings are fine).
     */
    public Folding survivorsAtOne() {
        return new Folding(hiddenNorm, null, null, null);
    }

    /** True when applying it changes nothing: the kept-mass norm and no values. */
    boolean isIdentity() {
        return hiddenNorm == HiddenNorm.KEPT_MASS && hidden == null && heads == null && channels == null;
    }

    /** True when some mask value is folded (not only the norm rule). */
    boolean hasValues() {
        return hidden != null || heads != null || channels != null;
    }

    /** Fails unless the values fit {@code source}'s widths, are finite, and the hidden fold is exact. */
    void requireFits(LlamaConfig source, String where) {
        if (hidden != null) {
            if (source.tieWordEmbeddings()) {
                throw new InvalidPlanException(where + "the hidden mask values cannot be folded into a model with "
                        + "tie_word_embeddings = true: embed_tokens is also the LM head, so scaling its columns would "
                        + "also scale the LM head and the pruned model would not compute the masked one. Drop "
                        + "the hidden values (Folding.survivorsAtOne(), or hidden = null)");
            }
            requireRow(where + "scales.hidden", hidden, source.hiddenSize(), "hidden_size");
        }
        requireLayers(where + "scales.heads", heads, source, true);
        requireLayers(where + "scales.channels", channels, source, false);
    }

    private static void requireLayers(String field, double[][] values, LlamaConfig c, boolean heads) {
        if (values == null) {
            return;
        }
        if (values.length != c.numHiddenLayers()) {
            throw new InvalidPlanException(field + " has " + values.length + " layers, expected "
                    + c.numHiddenLayers() + " (num_hidden_layers)");
        }
        for (int l = 0; l < values.length; l++) {
            if (values[l] != null) {
                requireRow(field + "[" + l + "]", values[l], heads ? c.layerHeads(l) : c.layerIntermediate(l),
                        heads ? "the layer's query heads" : "the layer's intermediate size");
            }
        }
    }

    private static void requireRow(String field, double[] row, int expected, String what) {
        if (row.length != expected) {
            throw new InvalidPlanException(field + " has " + row.length + " values, expected " + expected + " ("
                    + what + ")");
        }
        for (int i = 0; i < row.length; i++) {
            if (!Double.isFinite(row[i])) {
                throw new InvalidPlanException(field + "[" + i + "] is " + row[i] + "; mask values must be finite");
            }
        }
    }

    private static double[][] deepCopy(double[][] a) {
        if (a == null) {
            return null;
        }
        double[][] copy = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            copy[i] = a[i] == null ? null : a[i].clone();
        }
        return copy;
    }

    @Override
    public double[] hidden() {
        return hidden == null ? null : hidden.clone();
    }

    @Override
    public double[][] heads() {
        return deepCopy(heads);
    }

    @Override
    public double[][] channels() {
        return deepCopy(channels);
    }

    /** The hidden value of each kept channel, or null when there are none. */
    double[] hiddenAt(int[] kept) {
        return pick(hidden, kept);
    }

    /** The MLP values of layer {@code l} at the kept channels, or null. */
    double[] channelsAt(int l, int[] kept) {
        return channels == null ? null : pick(channels[l], kept);
    }

    /** The head values of layer {@code l} at the kept heads, or null. */
    double[] headsAt(int l, int[] kept) {
        return heads == null ? null : pick(heads[l], kept);
    }

    private static double[] pick(double[] values, int[] kept) {
        if (values == null) {
            return null;
        }
        double[] out = new double[kept.length];
        for (int i = 0; i < kept.length; i++) {
            out[i] = values[kept[i]];
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Folding f && hiddenNorm == f.hiddenNorm && Arrays.equals(hidden, f.hidden)
                && Arrays.deepEquals(heads, f.heads) && Arrays.deepEquals(channels, f.channels);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * hiddenNorm.hashCode() + Arrays.hashCode(hidden)) + Arrays.deepHashCode(heads))
                + Arrays.deepHashCode(channels);
    }

    @Override
    public String toString() {
        return "Folding{hidden_norm=" + hiddenNorm.label() + (hidden != null ? ", hidden" : "")
                + (heads != null ? ", heads" : "") + (channels != null ? ", channels" : "") + "}";
    }
}
