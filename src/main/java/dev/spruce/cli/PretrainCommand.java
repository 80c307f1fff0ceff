package dev.spruce.cli;

import dev.spruce.data.TextSource;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.safetensors.DType;
import dev.spruce.pipeline.PretrainJob;
import dev.spruce.spark.SparkSessions;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code spruce pretrain}: train a LLaMA from scratch on Spark (the bundled demo model is made this way). */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = "Train a LLaMA from scratch with the distributed trainer (all weights).")
public final class PretrainCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private JobOptions job;

    @Override
    public Integer call() {
        JobConfig c = job.load();
        String p = "pretrain.";
        LlamaConfig.Builder architecture = LlamaConfig.builder()
                .numHiddenLayers(c.integer(p + "model.layers"))
                .hiddenSize(c.integer(p + "model.hidden"))
                .numAttentionHeads(c.integer(p + "model.heads"))
                .numKeyValueHeads(c.integer(p + "model.kv-heads"))
                .intermediateSize(c.integer(p + "model.intermediate"))
                .ropeTheta(c.number(p + "model.rope-theta"))
                .rmsNormEps(c.number(p + "model.rms-norm-eps"))
                .tieWordEmbeddings(c.flag(p + "model.tie-embeddings"));
        DType save = switch (c.string(p + "save-dtype").toLowerCase(Locale.ROOT)) {
            case "float16" -> DType.F16;
            case "bfloat16" -> DType.BF16;
            case "float32" -> DType.F32;
            default -> throw new IllegalArgumentException("pretrain.save-dtype must be float16, bfloat16 or float32, got '"
                    + c.string(p + "save-dtype") + "'");
        };
        PretrainJob.Settings s = new PretrainJob.Settings(
                new TextSource(c.required(p + "corpus.path"), c.string(p + "corpus.format"), c.string(p + "corpus.field")),
                c.required(p + "tokenizer"), c.integer(p + "length"), architecture, c.string(p + "dtype"), save,
                c.required(p + "out"), c.required(p + "work-dir"), c.longValue(p + "init-seed"),
                TrainConfig.read(c, p + "train", 0, job.resume));
        PretrainJob.Outcome out = PretrainJob.run(SparkSessions.create(c.string("spark.app-name"),
                c.string("spark.master"), c.flag("spark.ui"), c.sparkConf()), s);
        PrintWriter w = spec.commandLine().getOut();
        w.printf("model=%s%n", out.model());
        w.printf("params=%d%n", out.config().parameterCount());
        w.printf("steps=%d tokens=%d best_validation_loss=%.4f%n", out.result().steps(), out.result().tokens(),
                out.result().bestValidationLoss());
        w.flush();
        return 0;
    }
}
