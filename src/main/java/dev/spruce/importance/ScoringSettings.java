package dev.spruce.importance;

import dev.spruce.scope.LayerRange;
import java.io.Serializable;
import java.util.Objects;

/**
 * What {@link GroupScorer} scores and how.
 *
 * @param criterion       the importance criterion
 * @param reduction       how member vectors combine (llm-pruner.md §2.5); the criterion's default is the reference's
 * @param gqaFold         how q/o channels fold onto kv groups (§1.8); ignored for MHA layers
 * @param seed            seeds {@code random} importance; ignored by the other criteria
 * @param attentionLayers layers whose attention kv groups are scored (reference {@code block_attention_layer_*})
 * @param mlpLayers       layers whose MLP channels are scored (reference {@code block_mlp_layer_*})
 * @param hiddenChannels  whether to score residual channels (the "Channel" baseline, §1.2)
 */
public record ScoringSettings(Criterion criterion, GroupReduction reduction, GqaFold gqaFold, long seed,
                              LayerRange attentionLayers, LayerRange mlpLayers, boolean hiddenChannels)
        implements Serializable {

    public ScoringSettings {
        Objects.requireNonNull(criterion, "criterion");
        Objects.requireNonNull(reduction, "reduction");
        Objects.requireNonNull(gqaFold, "gqaFold");
        Objects.requireNonNull(attentionLayers, "attentionLayers");
        Objects.requireNonNull(mlpLayers, "mlpLayers");
    }

    /**
     * Block-wise scoring of the given layers with the reference's defaults: the criterion's default reduction,
     * the correct GQA fold, seed 42 (the reference's {@code set_random_seed}), no hidden channels.
     */
    public static ScoringSettings blockWise(Criterion criterion, LayerRange attentionLayers, LayerRange mlpLayers) {
        return new ScoringSettings(criterion, criterion.defaultGroupReduction(), GqaFold.CORRECT, 42,
                attentionLayers, mlpLayers, false);
    }

    public ScoringSettings withReduction(GroupReduction r) {
        return new ScoringSettings(criterion, r, gqaFold, seed, attentionLayers, mlpLayers, hiddenChannels);
    }

    public ScoringSettings withGqaFold(GqaFold f) {
        return new ScoringSettings(criterion, reduction, f, seed, attentionLayers, mlpLayers, hiddenChannels);
    }

    public ScoringSettings withSeed(long s) {
        return new ScoringSettings(criterion, reduction, gqaFold, s, attentionLayers, mlpLayers, hiddenChannels);
    }

    public ScoringSettings withHiddenChannels(boolean h) {
        return new ScoringSettings(criterion, reduction, gqaFold, seed, attentionLayers, mlpLayers, h);
    }
}
