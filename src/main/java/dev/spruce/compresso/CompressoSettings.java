package dev.spruce.compresso;

import dev.spruce.lora.LoraSettings;
import dev.spruce.scope.LayerRange;
import java.io.Serializable;
import java.util.List;
import java.util.Locale;

/**
 * What Compresso learns and how: the structures that get masks and the layers they apply to, the hard-concrete
 * temperature and initial logits, the size target and its schedule, the mask and multiplier learning rate, the
 * phases and the LoRA adapters trained alongside. Defaults are the reference's pruning run (LoRA on q and v, rank
 * 8, alpha 8, no dropout; rate 0.1 for masks and multipliers; FFN logits from a drop rate of 0.01).
 *
 * @param heads            mask attention heads (per kv group on GQA models)
 * @param ffn              mask MLP intermediate channels
 * @param hidden           mask hidden dimensions (one vector shared by every layer)
 * @param layers           the decoder layers whose heads and channels get masks (hidden masks span all)
 * @param temperature      hard-concrete beta
 * @param initialLogit     the mean initial logit of head and hidden masks (clamped to log 100 at once)
 * @param dropRateInit     FFN masks start at logit log((1-p)/p)
 * @param targetSparsity   the fraction of the whole model's parameters to remove (embeddings included)
 * @param warmupSteps      pruning steps over which the target ramps from 0 to {@code targetSparsity}
 * @param schedule         the ramp's shape
 * @param prePruningSteps  optimizer steps of plain LoRA before masks and multipliers exist
 * @param regLearningRate  the rate of the mask logits' AdamW, and of the multipliers' (by ascent)
 * @param foldSurvivors    fold the surviving units' fractional mask values into the weights (exact); false sets them
 *                         to 1, which changes the model's outputs by up to the (1 - z) of the survivors
 */
public record CompressoSettings(boolean heads, boolean ffn, boolean hidden, LayerRange layers, double temperature,
                                double initialLogit, double dropRateInit, double targetSparsity, long warmupSteps,
                                TargetSchedule schedule, long prePruningSteps, double regLearningRate,
                                boolean foldSurvivors, LoraSettings lora) implements Serializable {

    /** The target's ramp from 0 to the final sparsity over the warm-up. */
    public enum TargetSchedule {
        LINEAR, CUBIC;

        public static TargetSchedule parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("compresso.target-schedule '" + s + "' is not supported; expected "
                        + "linear or cubic");
            }
        }
    }

    public CompressoSettings {
        if (!heads && !ffn && !hidden) {
            throw new IllegalArgumentException("compresso: at least one of compresso.prune-heads, prune-ffn and "
                    + "prune-hidden must be true");
        }
        new HardConcrete(temperature);
        if (!(dropRateInit > 0 && dropRateInit < 1)) {
            throw new IllegalArgumentException("compresso.drop-rate-init must be in (0, 1), got " + dropRateInit);
        }
        if (!(targetSparsity >= 0 && targetSparsity < 1)) {
            throw new IllegalArgumentException("compresso.target-sparsity must be in [0, 1), got " + targetSparsity);
        }
        if (warmupSteps < 0 || prePruningSteps < 0) {
            throw new IllegalArgumentException("compresso.warmup-steps and pre-pruning-steps must be >= 0, got "
                    + warmupSteps + " and " + prePruningSteps);
        }
        if (!(regLearningRate > 0 && Double.isFinite(regLearningRate))) {
            throw new IllegalArgumentException("compresso.reg-learning-rate must be a positive number, got "
                    + regLearningRate);
        }
        if (!Double.isFinite(initialLogit)) {
            throw new IllegalArgumentException("compresso.initial-logit must be a finite number, got " + initialLogit);
        }
        if (schedule == null || layers == null || lora == null) {
            throw new IllegalArgumentException("compresso: schedule, layers and lora settings are required");
        }
    }

    /** The reference's settings for {@code numLayers} layers at a target sparsity. */
    public static CompressoSettings reference(int numLayers, double targetSparsity, long warmupSteps) {
        return new CompressoSettings(true, true, true, LayerRange.all(numLayers), 2.0 / 3.0, 10, 0.01,
                targetSparsity, warmupSteps, TargetSchedule.LINEAR, 0, 0.1, true,
                new LoraSettings(8, 8, 0, List.of("q_proj", "v_proj")));
    }

    public HardConcrete hardConcrete() {
        return new HardConcrete(temperature);
    }

    /** The target sparsity at optimizer step {@code step} (0 before and during pre-pruning). */
    public double target(long step) {
        long pruning = step - prePruningSteps;
        if (pruning <= 0) {
            return 0;
        }
        double progress = warmupSteps == 0 ? 1 : Math.min(1, (double) pruning / warmupSteps);
        return switch (schedule) {
            case LINEAR -> targetSparsity * progress;
            case CUBIC -> targetSparsity - targetSparsity * Math.pow(1 - progress, 3);
        };
    }

    /** True at optimizer steps (1-based) that train the masks; validation after {@code step} steps uses them too. */
    public boolean masksAt(long step) {
        return step > prePruningSteps;
    }
}
