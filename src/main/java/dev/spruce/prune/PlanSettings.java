package dev.spruce.prune;

import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import dev.spruce.scope.LayerRange;
import java.io.Serializable;
import java.util.Collection;
import java.util.Collections;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What to prune and how much. Immutable; build with {@link #builder()}.
 *
 * @param ratio fraction of units removed inside each pruned layer (modes local and global), in [0, 1)
 * @param attentionLayers layers whose attention kv groups may be pruned (end exclusive)
 * @param mlpLayers layers whose MLP channels may be pruned (end exclusive)
 * @param mode local (reference default), global (reference {@code --global_pruning}) or budget
 * @param iterativeSteps K: step k of K prunes to {@link #ratioAtStep(int)} of the initial widths
 * @param channelWise prune residual (hidden) channels instead of heads and MLP channels: the "Channel" baseline
 * @param targetParams budget mode: the whole model's parameter count to reach, or null
 * @param targetFraction budget mode: the target as a fraction of the model's parameters, or null
 * @param protectedLayers layers never pruned, whatever the ranges say
 * @param channelMultiple kept MLP widths of pruned layers are multiples of this (1 = reference)
 * @param kvGroupMultiple kept kv-group counts of pruned layers are multiples of this (1 = reference)
 * @param uniform budget mode: every pruned layer keeps the same widths
 */
public record PlanSettings(double ratio, LayerRange attentionLayers, LayerRange mlpLayers, PruneMode mode,
                           int iterativeSteps, boolean channelWise, Long targetParams, Double targetFraction,
                           SortedSet<Integer> protectedLayers, int channelMultiple, int kvGroupMultiple,
                           boolean uniform) implements Serializable {

    /** The range of every documented LLM-Pruner command (README, scripts): layers 4..29. */
    public static final LayerRange DEFAULT_LAYERS = new LayerRange(4, 30);

    public PlanSettings {
        if (!(ratio >= 0 && ratio < 1)) {
            throw new InvalidPlanException("pruning ratio must be in [0, 1), got " + ratio);
        }
        if (attentionLayers == null || mlpLayers == null || mode == null) {
            throw new InvalidPlanException("plan settings need attention and MLP layer ranges and a mode");
        }
        if (iterativeSteps < 1) {
            throw new InvalidPlanException("iterative_steps must be >= 1, got " + iterativeSteps);
        }
        if (channelMultiple < 1 || kvGroupMultiple < 1) {
            throw new InvalidPlanException("channel_multiple and kv_group_multiple must be >= 1, got "
                    + channelMultiple + " and " + kvGroupMultiple);
        }
        if (mode == PruneMode.BUDGET) {
            if ((targetParams == null) == (targetFraction == null)) {
                throw new InvalidPlanException("mode budget needs exactly one of target_params and target_fraction");
            }
            if (targetParams != null && targetParams <= 0) {
                throw new InvalidPlanException("target_params must be positive, got " + targetParams);
            }
            if (targetFraction != null && !(targetFraction > 0 && targetFraction <= 1)) {
                throw new InvalidPlanException("target_fraction must be in (0, 1], got " + targetFraction);
            }
        } else if (targetParams != null || targetFraction != null) {
            throw new InvalidPlanException("target_params and target_fraction are used by mode budget only, "
                    + "mode is " + mode.label());
        }
        if (channelWise && mode != PruneMode.LOCAL) {
            throw new InvalidPlanException("channel-wise pruning removes hidden channels by ratio and needs mode "
                    + "local, mode is " + mode.label());
        }
        if (uniform && mode == PruneMode.GLOBAL) {
            throw new InvalidPlanException("uniform widths contradict mode global, whose single threshold gives "
                    + "each layer its own width; use mode budget with uniform, or mode local (uniform already)");
        }
        protectedLayers = Collections.unmodifiableSortedSet(
                new TreeSet<>(protectedLayers == null ? Collections.emptySet() : protectedLayers));
        for (int l : protectedLayers) {
            if (l < 0) {
                throw new InvalidPlanException("protected layer " + l + " is negative");
            }
        }
    }

    /** The linear schedule of the reference: step k of K prunes to {@code ratio * k / K} of the initial widths. */
    public double ratioAtStep(int step) {
        if (step < 1 || step > iterativeSteps) {
            throw new InvalidPlanException("step " + step + " is outside 1.." + iterativeSteps);
        }
        // Python's scheduler computes (k / K) * r; keep its order so the double is bit-identical.
        return ((double) step / iterativeSteps) * ratio;
    }

    /** True when the attention of {@code layer} may lose kv groups. */
    public boolean prunesAttention(int layer) {
        return attentionLayers.contains(layer) && !protectedLayers.contains(layer);
    }

    /** True when the MLP of {@code layer} may lose channels. */
    public boolean prunesMlp(int layer) {
        return mlpLayers.contains(layer) && !protectedLayers.contains(layer);
    }

    /** Budget mode: the absolute parameter target for a model of {@code config}'s size. */
    public long resolveTarget(LlamaConfig config) {
        if (mode != PruneMode.BUDGET) {
            throw new IllegalStateException("mode " + mode.label() + " has no parameter target");
        }
        return targetParams != null ? targetParams : (long) Math.floor(targetFraction * config.parameterCount());
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().ratio(ratio).attentionLayers(attentionLayers).mlpLayers(mlpLayers).mode(mode)
                .iterativeSteps(iterativeSteps).channelWise(channelWise).targetParams(targetParams)
                .targetFraction(targetFraction).protectedLayers(protectedLayers).channelMultiple(channelMultiple)
                .kvGroupMultiple(kvGroupMultiple).uniform(uniform);
    }

    /** Defaults: ratio 0, layers 4:30 for both, mode local, one step, multiples 1, nothing protected. */
    public static final class Builder {
        private double ratio;
        private LayerRange attentionLayers = DEFAULT_LAYERS;
        private LayerRange mlpLayers = DEFAULT_LAYERS;
        private PruneMode mode = PruneMode.LOCAL;
        private int iterativeSteps = 1;
        private boolean channelWise;
        private Long targetParams;
        private Double targetFraction;
        private SortedSet<Integer> protectedLayers = new TreeSet<>();
        private int channelMultiple = 1;
        private int kvGroupMultiple = 1;
        private boolean uniform;

        public Builder ratio(double v) { ratio = v; return this; }
        /** Sets both the attention and the MLP range. */
        public Builder layers(LayerRange v) { attentionLayers = v; mlpLayers = v; return this; }
        public Builder attentionLayers(LayerRange v) { attentionLayers = v; return this; }
        public Builder mlpLayers(LayerRange v) { mlpLayers = v; return this; }
        public Builder mode(PruneMode v) { mode = v; return this; }
        public Builder iterativeSteps(int v) { iterativeSteps = v; return this; }
        public Builder channelWise(boolean v) { channelWise = v; return this; }
        public Builder targetParams(Long v) { targetParams = v; return this; }
        public Builder targetFraction(Double v) { targetFraction = v; return this; }
        public Builder protectedLayers(Collection<Integer> v) { protectedLayers = new TreeSet<>(v); return this; }
        public Builder channelMultiple(int v) { channelMultiple = v; return this; }
        public Builder kvGroupMultiple(int v) { kvGroupMultiple = v; return this; }
        public Builder uniform(boolean v) { uniform = v; return this; }

        public PlanSettings build() {
            return new PlanSettings(ratio, attentionLayers, mlpLayers, mode, iterativeSteps, channelWise,
                    targetParams, targetFraction, protectedLayers, channelMultiple, kvGroupMultiple, uniform);
        }
    }
}
