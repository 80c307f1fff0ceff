package dev.spruce.cli;

import dev.spruce.data.CalibrationSet;
import dev.spruce.data.TextSource;
import dev.spruce.importance.Criterion;
import dev.spruce.importance.GqaFold;
import dev.spruce.importance.GroupReduction;
import dev.spruce.importance.ScoringSettings;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.pipeline.PruneJob;
import dev.spruce.prune.PlanSettings;
import dev.spruce.prune.PruneMode;
import dev.spruce.scope.LayerRange;
import java.util.Locale;

/** Reads the {@code model}, {@code calibration}, {@code importance}, {@code prune} and {@code output} sections. */
final class PruneConfig {
    private PruneConfig() {}

    /** Reads the settings of {@code spruce prune} from a loaded configuration. */
    static PruneJob.Settings read(JobConfig c) {
        LlamaConfig config = LlamaConfig.read(Fs.path(c.required("model.path")));
        Criterion criterion = Criterion.parse(c.string("importance.criterion"));
        String reduction = c.string("importance.reduction");
        LayerRange attention = LayerRange.parse(c.string("prune.attention-layers"));
        LayerRange mlp = LayerRange.parse(c.string("prune.mlp-layers"));
        ScoringSettings scoring = ScoringSettings.blockWise(criterion, attention, mlp)
                .withSeed(c.longValue("importance.seed"))
                .withGqaFold(GqaFold.valueOf(c.string("importance.gqa-fold").toUpperCase(Locale.ROOT)))
                .withHiddenChannels(c.flag("prune.channel-wise"));
        if (!reduction.equals("default")) {
            scoring = scoring.withReduction(GroupReduction.parse(reduction));
        }
        PlanSettings.Builder plan = PlanSettings.builder()
                .ratio(c.number("prune.ratio"))
                .attentionLayers(attention)
                .mlpLayers(mlp)
                .mode(PruneMode.parse(c.string("prune.mode")))
                .iterativeSteps(c.integer("prune.iterative-steps"))
                .channelWise(c.flag("prune.channel-wise"))
                .protectedLayers(c.integers("prune.protected-layers"))
                .channelMultiple(c.integer("prune.channel-multiple"))
                .kvGroupMultiple(c.integer("prune.kv-group-multiple"))
                .uniform(c.flag("prune.uniform"));
        if (c.longValue("prune.target-params") > 0) {
            plan.targetParams(c.longValue("prune.target-params"));
        }
        if (c.number("prune.target-fraction") > 0) {
            plan.targetFraction(c.number("prune.target-fraction"));
        }
        PlanSettings planSettings = plan.build();
        planSettings.attentionLayers().requireWithin(config, "prune.attention-layers");
        planSettings.mlpLayers().requireWithin(config, "prune.mlp-layers");
        CalibrationSet.Settings calibration = new CalibrationSet.Settings(
                new TextSource(c.required("calibration.path"), c.string("calibration.format"),
                        c.string("calibration.field")),
                CalibrationSet.Protocol.parse(c.string("calibration.protocol")), c.integer("calibration.samples"),
                c.integer("calibration.length"), c.longValue("calibration.seed"), c.integer("calibration.partitions"));
        return new PruneJob.Settings(c.required("model.path"), c.string("model.dtype"), c.flag("model.cpu-only"),
                c.required("output.dir"), c.flag("output.overwrite"), c.longValue("output.max-shard-bytes"),
                calibration, c.integer("calibration.micro-batch"), scoring, c.integer("importance.block-elements"),
                planSettings, c.string("spark.master"), c.string("spark.app-name"), c.flag("spark.ui"),
                c.sparkConf(), c.json(), c.number("calibration.max-bad-fraction"));
    }
}
