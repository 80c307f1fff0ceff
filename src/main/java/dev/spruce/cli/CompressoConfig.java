package dev.spruce.cli;

import dev.spruce.compresso.CompressoSettings;
import dev.spruce.data.PromptTemplate;
import dev.spruce.data.TextSource;
import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import dev.spruce.pipeline.CompressoJob;
import dev.spruce.pipeline.RecoverJob;
import dev.spruce.scope.LayerRange;
import dev.spruce.tokenize.HfTokenizer;
import java.util.Locale;

/** Reads the {@code compresso} section (with {@code model}, {@code output} and {@code spark}) into job settings. */
final class CompressoConfig {
    private CompressoConfig() {}

    /** True when {@code prune.method} selects Compresso; anything but the two methods is refused. */
    static boolean selected(JobConfig c) {
        return switch (c.string("prune.method").trim().toLowerCase(Locale.ROOT)) {
            case "llm-pruner" -> false;
            case "compresso" -> true;
            default -> throw new IllegalArgumentException("prune.method '" + c.string("prune.method")
                    + "' is not supported; expected llm-pruner or compresso");
        };
    }

    static CompressoJob.Settings read(JobConfig c, boolean resume) {
        String model = c.required("model.path");
        LlamaConfig config = LlamaConfig.read(Fs.path(model));
        String layers = c.string("compresso.layers").trim();
        LayerRange band = layers.isEmpty() ? LayerRange.all(config.numHiddenLayers()) : LayerRange.parse(layers);
        boolean fold = switch (c.string("compresso.survivors").trim().toLowerCase(Locale.ROOT)) {
            case "fold" -> true;
            case "one" -> false;
            default -> throw new IllegalArgumentException("compresso.survivors '" + c.string("compresso.survivors")
                    + "' is not supported; expected fold or one");
        };
        LoraSettings lora = new LoraSettings(c.integer("compresso.lora.rank"), c.number("compresso.lora.alpha"),
                c.number("compresso.lora.dropout"), c.strings("compresso.lora.target-modules"));
        CompressoSettings settings = new CompressoSettings(c.flag("compresso.prune-heads"),
                c.flag("compresso.prune-ffn"), c.flag("compresso.prune-hidden"), band,
                c.number("compresso.temperature"), c.number("compresso.initial-logit"),
                c.number("compresso.drop-rate-init"), c.number("compresso.target-sparsity"),
                c.longValue("compresso.warmup-steps"),
                CompressoSettings.TargetSchedule.parse(c.string("compresso.target-schedule")),
                c.longValue("compresso.pre-pruning-steps"), c.number("compresso.reg-learning-rate"), fold, lora);
        RecoverJob.DataKind kind = RecoverJob.DataKind.parse(c.string("compresso.data.kind"), "compresso.data.kind");
        int padId;
        try (HfTokenizer tok = HfTokenizer.load(Fs.path(model))) {
            padId = tok.padId();
        }
        return new CompressoJob.Settings(model, c.string("model.dtype"), c.flag("model.cpu-only"),
                c.required("output.dir"), c.flag("output.overwrite"), c.longValue("output.max-shard-bytes"),
                new TextSource(c.required("compresso.data.path"), c.string("compresso.data.format"),
                        kind == RecoverJob.DataKind.TEXT ? c.string("compresso.data.field") : null), kind,
                c.integer("compresso.cutoff"), c.integer("compresso.data.window"), PromptTemplate.forChoice(c.string("compresso.template"),
                "compresso.template"), settings, TrainConfig.read(c, "compresso.train", padId, resume),
                c.string("spark.master"), c.string("spark.app-name"), c.flag("spark.ui"), c.sparkConf(), c.json(),
                c.number("compresso.data.max-bad-fraction"));
    }
}
