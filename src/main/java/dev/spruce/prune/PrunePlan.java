package dev.spruce.prune;

import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import java.util.List;
import org.apache.hadoop.fs.Path;

/**
 * The outcome of planning: per layer the kept kv groups, query heads and MLP channels (ascending indices into
 * the source model), the kept hidden channels for the channel-wise baseline, and the sizes before and after.
 * Immutable. Written as {@code plan.json} for the apply stage and for people to read.
 */
public final class PrunePlan {
    private final String criterion;
    private final PlanSettings settings;
    private final LlamaConfig source;
    private final LlamaConfig pruned;
    private final List<LayerPlan> layers;
    /** Null unless channel-wise. */
    private final int[] keptHidden;

    PrunePlan(String criterion, PlanSettings settings, LlamaConfig source, LlamaConfig pruned, List<LayerPlan> layers,
              int[] keptHidden) {
        this.criterion = criterion;
        this.settings = settings;
        this.source = source;
        this.pruned = pruned;
        this.layers = List.copyOf(layers);
        this.keptHidden = keptHidden == null ? null : keptHidden.clone();
    }

    /** The importance criterion whose scores chose the indices. */
    public String criterion() {
        return criterion;
    }

    public PlanSettings settings() {
        return settings;
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

    /** True for the channel-wise baseline, which narrows the residual stream instead of heads and MLPs. */
    public boolean channelWise() {
        return keptHidden != null;
    }

    /** Kept residual channels, ascending: a subset channel-wise, otherwise every channel. */
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
        return "PrunePlan{criterion=" + criterion + ", mode=" + settings.mode().label() + ", params "
                + paramsBefore() + " -> " + paramsAfter() + "}";
    }
}
