package dev.spruce.prune;

import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import java.util.List;
import org.apache.hadoop.fs.Path;

/**
 * The outcome of planning: per layer the kept kv groups, query heads and MLP channels (ascending indices into
 * the source model), the kept hidden channels (the channel-wise baseline, or explicit decisions), the sizes
 * before and after, and optionally a {@link Folding} of mask values into the kept weights. Immutable. Written as
 * {@code plan.json} for the apply stage and for people to read.
 *
 * <p>Two kinds: the {@link Planner}'s, made from importance scores under {@link PlanSettings}, and plans of
 * explicit keep decisions ({@link #ofKept}, e.g. Compresso's learned masks), which have no settings and may
 * empty a layer's attention or MLP.
 */
public final class PrunePlan {
    private final String criterion;
    private final PlanSettings settings;
    private final LlamaConfig source;
    private final LlamaConfig pruned;
    private final List<LayerPlan> layers;
    /** Null unless hidden channels are removed. */
    private final int[] keptHidden;
    /** Null when nothing is folded. */
    private final Folding folding;

    PrunePlan(String criterion, PlanSettings settings, LlamaConfig source, LlamaConfig pruned, List<LayerPlan> layers,
              int[] keptHidden) {
        this(criterion, settings, source, pruned, layers, keptHidden, null);
    }

    private PrunePlan(String criterion, PlanSettings settings, LlamaConfig source, LlamaConfig pruned,
                      List<LayerPlan> layers, int[] keptHidden, Folding folding) {
        this.criterion = criterion;
        this.settings = settings;
        this.source = source;
        this.pruned = pruned;
        this.layers = List.copyOf(layers);
        this.keptHidden = keptHidden == null ? null : keptHidden.clone();
        this.folding = folding == null || folding.isIdentity() ? null : folding;
    }

    /**
     * A plan of explicit keep decisions over {@code source}: per layer the kept kv groups (GQA: a kv group
     * carries its n_rep query heads; MHA: kv group = head) and the kept MLP channels, and the kept hidden
     * channels; all ascending indices into {@code source}. A null row (or a null array) keeps every unit; an
     * empty row removes the layer's whole attention or MLP. Sizes follow as the {@link Planner}'s do.
     *
     * @param criterion what chose the indices, written to plan.json (e.g. {@code "compresso"})
     */
    public static PrunePlan ofKept(String criterion, LlamaConfig source, int[][] keptKvGroups, int[][] keptChannels,
                                   int[] keptHidden) {
        if (criterion == null || criterion.isBlank()) {
            throw new InvalidPlanException("a plan of explicit keep decisions needs a criterion label, e.g. "
                    + "compresso");
        }
        int n = source.numHiddenLayers();
        requireLayerCount("kept kv groups", keptKvGroups, n);
        requireLayerCount("kept MLP channels", keptChannels, n);
        int[][] kv = new int[n][];
        int[][] channels = new int[n][];
        for (int l = 0; l < n; l++) {
            kv[l] = keptOrAll(keptKvGroups == null ? null : keptKvGroups[l], source.layerKvHeads(l),
                    "layer " + l + " kept kv groups", true);
            channels[l] = keptOrAll(keptChannels == null ? null : keptChannels[l], source.layerIntermediate(l),
                    "layer " + l + " kept MLP channels", true);
        }
        int[] hidden = keptHidden == null ? null
                : keptOrAll(keptHidden, source.hiddenSize(), "kept hidden channels", false);
        return assemble(criterion, null, source, kv, channels,
                hidden == null || hidden.length == source.hiddenSize() ? null : hidden);
    }

    /** The plan of the given kept units; every layer's counts derived from them. */
    static PrunePlan assemble(String criterion, PlanSettings settings, LlamaConfig source, int[][] kv,
                              int[][] channels, int[] keptHidden) {
        int n = source.numHiddenLayers();
        int[] kvRemoved = new int[n];
        int[] channelsRemoved = new int[n];
        for (int l = 0; l < n; l++) {
            kvRemoved[l] = source.layerKvHeads(l) - kv[l].length;
            channelsRemoved[l] = source.layerIntermediate(l) - channels[l].length;
        }
        int hiddenRemoved = keptHidden == null ? 0 : source.hiddenSize() - keptHidden.length;
        LlamaConfig pruned = new Removals(kvRemoved, channelsRemoved, hiddenRemoved).prunedConfig(source);
        List<LayerPlan> layers = new java.util.ArrayList<>();
        for (int l = 0; l < n; l++) {
            layers.add(LayerPlan.of(l, kv[l], source.groupSize(l), channels[l], source.layerParameterCount(l),
                    pruned.layerParameterCount(l)));
        }
        return new PrunePlan(criterion, settings, source, pruned, layers, keptHidden);
    }

    private static void requireLayerCount(String what, int[][] perLayer, int layers) {
        if (perLayer != null && perLayer.length != layers) {
            throw new InvalidPlanException(what + ": " + perLayer.length + " layers given, the model has "
                    + layers + " (num_hidden_layers)");
        }
    }

    private static int[] keptOrAll(int[] kept, int width, String what, boolean mayBeEmpty) {
        if (kept == null) {
            return UnitOrder.all(width);
        }
        for (int i = 0; i < kept.length; i++) {
            if (kept[i] < 0 || kept[i] >= width || (i > 0 && kept[i] <= kept[i - 1])) {
                throw new InvalidPlanException(what + " must be strictly ascending within [0, " + width + "), got "
                        + java.util.Arrays.toString(kept));
            }
        }
        if (kept.length == 0 && !mayBeEmpty && width > 0) {
            throw new InvalidPlanException(what + " keep nothing; at least one hidden channel must stay");
        }
        return kept.clone();
    }

    /**
     * This plan with {@code f} folded in when it is applied (null, or the identity, folds nothing). Fails when
     * the values do not fit the source model, or when hidden values meet tied embeddings.
     */
    public PrunePlan withFolding(Folding f) {
        if (f != null) {
            f.requireFits(source, "");
        }
        return new PrunePlan(criterion, settings, source, pruned, layers, keptHidden, f);
    }

    /** What apply multiplies into the kept weights, or null when nothing. */
    public Folding folding() {
        return folding;
    }

    /** The importance criterion whose scores chose the indices, or the label of explicit decisions. */
    public String criterion() {
        return criterion;
    }

    /** The settings the {@link Planner} planned under, or null for a plan of explicit keep decisions. */
    public PlanSettings settings() {
        return settings;
    }

    /** True for a plan of explicit keep decisions ({@link #ofKept}). */
    public boolean explicit() {
        return settings == null;
    }

    /** The configuration of the model the plan applies to. */
    public LlamaConfig sourceConfig() {
        return source;
    }

    /** The configuration after applying the plan: per-layer widths, and a narrower hidden size channel-wise. */
    public LlamaConfig prunedConfig() {
        return pruned;
    }

    public List<LayerPlan> layers() {
        return layers;
    }

    public LayerPlan layer(int l) {
        return layers.get(l);
    }

    /**
     * True when hidden channels are removed: the channel-wise baseline, which narrows the residual stream instead
     * of heads and MLPs, or explicit decisions (which may do both).
     */
    public boolean channelWise() {
        return keptHidden != null;
    }

    /** Kept residual channels, ascending: a subset when hidden channels are removed, otherwise every channel. */
    public int[] keptHidden() {
        return keptHidden != null ? keptHidden.clone() : UnitOrder.all(source.hiddenSize());
    }

    public long paramsBefore() {
        return source.parameterCount();
    }

    public long paramsAfter() {
        return pruned.parameterCount();
    }

    /** The plan as {@code plan.json} text. */
    public String toJson() {
        return PrunePlanJson.write(this);
    }

    /** Parses {@code plan.json} text; {@code where} names the source in error messages. */
    public static PrunePlan fromJson(String json, String where) {
        return PrunePlanJson.read(json, where);
    }

    /** Writes the plan to a file, atomically. */
    public void write(Path file) {
        Fs.writeStringAtomically(file, toJson());
    }

    public static PrunePlan read(Path file) {
        if (!Fs.exists(file)) {
            throw new InvalidPlanException(file + ": plan file not found");
        }
        return fromJson(Fs.readString(file), file.toString());
    }

    @Override
    public String toString() {
        String mode = settings == null ? "explicit" : settings.mode().label();
        return "PrunePlan{criterion=" + criterion + ", mode=" + mode
                + (folding == null ? "" : ", " + folding) + ", params " + paramsBefore() + " -> " + paramsAfter() + "}";
    }
}
