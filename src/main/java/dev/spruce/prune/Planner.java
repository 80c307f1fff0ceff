package dev.spruce.prune;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns importance scores and {@link PlanSettings} into a {@link PrunePlan}, following LLM-Pruner's counting
 * rules (llm-pruner.md §1.4): per pruned layer, {@code n = C_current - int(C_initial * (1 - r_step))}
 * channels of the root's width are pruned, whole kv groups ({@code n / head_dim}, floor) for attention and
 * single channels for the MLP; the lowest-scored units go.
 */
public final class Planner {
    private Planner() {}

    /** One-shot plan to the final ratio (or budget) for a model of {@code config}'s widths. */
    public static PrunePlan plan(LlamaConfig config, ImportanceScores scores, PlanSettings s) {
        return planStep(config, config, scores, s, s.iterativeSteps());
    }

    /**
     * Step {@code step} of an iterative run: prunes {@code current} (the model after step {@code step - 1},
     * re-scored) to {@link PlanSettings#ratioAtStep(int)} of {@code original}'s widths. Kept indices refer to
     * {@code current}'s units.
     */
    public static PrunePlan planStep(LlamaConfig original, LlamaConfig current, ImportanceScores scores,
                                     PlanSettings s, int step) {
        validate(original, current, s);
        if (scores == null) {
            throw new InvalidPlanException("planning needs importance scores; without them only counts of mode "
                    + "local are available (Planner.counts)");
        }
        requireScores(current, scores, s);
        Removals removals = switch (s.mode()) {
            case LOCAL -> localRemovals(original, current, s, step);
            case GLOBAL -> GlobalRanking.removals(original, current, scores, s, s.ratioAtStep(step));
            case BUDGET -> BudgetSearch.removals(current, scores, s, budgetAtStep(original, s, step));
        };
        return select(current, scores, s, removals);
    }

    /**
     * The pruned configuration a plan would produce, from the configuration alone: its per-layer widths are the
     * kept counts (and its hidden size, channel-wise). Only mode local counts without scores.
     */
    public static LlamaConfig counts(LlamaConfig config, PlanSettings s) {
        validate(config, config, s);
        if (s.mode() != PruneMode.LOCAL) {
            throw new InvalidPlanException("mode " + s.mode().label() + " chooses its counts from the importance "
                    + "scores; counting from the configuration alone works for mode local only");
        }
        return localRemovals(config, config, s, s.iterativeSteps()).prunedConfig(config);
    }

    // ---------------------------------------------------------------- counting

    private static Removals localRemovals(LlamaConfig original, LlamaConfig current, PlanSettings s, int step) {
        double r = s.ratioAtStep(step);
        Removals out = Removals.none(current);
        if (s.channelWise()) {
            return new Removals(out.kvGroups(), out.channels(),
                    localRemoval(current.hiddenSize(), original.hiddenSize(), 1, r, 1));
        }
        for (int l = 0; l < current.numHiddenLayers(); l++) {
            if (s.prunesAttention(l)) {
                out.kvGroups()[l] = localRemoval(current.layerKvHeads(l), original.layerKvHeads(l),
                        current.headDim(), r, s.kvGroupMultiple());
            }
            if (s.prunesMlp(l)) {
                out.channels()[l] = localRemoval(current.layerIntermediate(l), original.layerIntermediate(l), 1, r,
                        s.channelMultiple());
            }
        }
        return out;
    }

    /**
     * Units one layer loses under the reference rule. {@code unitWidth} channels make a unit (head_dim for a kv
     * group, 1 for an MLP or hidden channel). A removal that would empty the layer is skipped, as the reference's
     * {@code check_pruning_group} does; fewer than {@code unitWidth} channels remove nothing (the reference crashes).
     */
    static int localRemoval(int currentUnits, int initialUnits, int unitWidth, double r, int multiple) {
        long currentChannels = (long) currentUnits * unitWidth;
        long initialChannels = (long) initialUnits * unitWidth;
        long prunedChannels = currentChannels - (long) (initialChannels * (1 - r));
        if (prunedChannels <= 0) {
            return 0;
        }
        long units = prunedChannels / unitWidth;
        if (units >= currentUnits) {
            return 0;
        }
        return currentUnits - UnitOrder.roundKeptDown(currentUnits - (int) units, currentUnits, multiple);
    }

    private static long budgetAtStep(LlamaConfig original, PlanSettings s, int step) {
        long before = original.parameterCount();
        long target = s.resolveTarget(original);
        if (target > before) {
            return target; // BudgetSearch reports it
        }
        return before - (before - target) * step / s.iterativeSteps();
    }

    // ---------------------------------------------------------------- selection

    private static PrunePlan select(LlamaConfig current, ImportanceScores scores, PlanSettings s, Removals removals) {
        LlamaConfig pruned = removals.prunedConfig(current);
        List<LayerPlan> layers = new ArrayList<>();
        for (int l = 0; l < current.numHiddenLayers(); l++) {
            int[] keptKv = removals.kvGroups()[l] == 0 ? UnitOrder.all(current.layerKvHeads(l))
                    : UnitOrder.keptAfterRemovingLowest(scores.attention()[l], removals.kvGroups()[l]);
            int[] keptChannels = removals.channels()[l] == 0 ? UnitOrder.all(current.layerIntermediate(l))
                    : UnitOrder.keptAfterRemovingLowest(scores.mlp()[l], removals.channels()[l]);
            layers.add(LayerPlan.of(l, keptKv, current.groupSize(l), keptChannels,
                    current.layerParameterCount(l), pruned.layerParameterCount(l)));
        }
        int[] keptHidden = s.channelWise()
                ? UnitOrder.keptAfterRemovingLowest(scores.hidden(), removals.hidden()) : null;
        return new PrunePlan(scores.criterion(), s, current, pruned, layers, keptHidden);
    }

    // ---------------------------------------------------------------- validation

    private static void validate(LlamaConfig original, LlamaConfig current, PlanSettings s) {
        if (original.numHiddenLayers() != current.numHiddenLayers() || original.headDim() != current.headDim()) {
            throw new InvalidPlanException("the current model (" + current + ") is not a pruned version of the "
                    + "original (" + original + "): layer count and head_dim must match");
        }
        s.attentionLayers().requireWithin(current, "attention");
        s.mlpLayers().requireWithin(current, "MLP");
        for (int l : s.protectedLayers()) {
            if (l >= current.numHiddenLayers()) {
                throw new InvalidPlanException("protected layer " + l + " does not exist: num_hidden_layers = "
                        + current.numHiddenLayers());
            }
        }
    }

    private static void requireScores(LlamaConfig c, ImportanceScores scores, PlanSettings s) {
        String who = "importance scores (criterion " + scores.criterion() + ")";
        if (s.channelWise()) {
            requireRow(who, "hidden", scores.hidden(), c.hiddenSize(), "hidden_size");
            return;
        }
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            if (s.prunesAttention(l)) {
                double[] row = scores.attention() != null && l < scores.attention().length
                        ? scores.attention()[l] : null;
                if (row == null) {
                    throw new InvalidPlanException(who + " have no attention scores for layer " + l
                            + ", which is in the attention layer range " + s.attentionLayers());
                }
                requireRow(who, "attention[" + l + "]", row, c.layerKvHeads(l), "the layer's kv groups");
            }
            if (s.prunesMlp(l)) {
                double[] row = scores.mlp() != null && l < scores.mlp().length ? scores.mlp()[l] : null;
                if (row == null) {
                    throw new InvalidPlanException(who + " have no MLP scores for layer " + l
                            + ", which is in the MLP layer range " + s.mlpLayers());
                }
                requireRow(who, "mlp[" + l + "]", row, c.layerIntermediate(l), "the layer's intermediate size");
            }
        }
    }

    private static void requireRow(String who, String field, double[] row, int expected, String what) {
        if (row == null) {
            throw new InvalidPlanException(who + " have no " + field + " scores");
        }
        if (row.length != expected) {
            throw new InvalidPlanException(who + ": " + field + " has " + row.length + " scores, expected "
                    + expected + " (" + what + ")");
        }
        for (int i = 0; i < row.length; i++) {
            if (!Double.isFinite(row[i])) {
                throw new InvalidPlanException(who + ": " + field + "[" + i + "] is " + row[i]
                        + "; scores must be finite");
            }
        }
    }
}
