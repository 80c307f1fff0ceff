package dev.spruce.cli;

import dev.spruce.data.PromptTemplate;
import dev.spruce.data.TextSource;
import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.pipeline.RecoverJob;
import dev.spruce.pipeline.RunDirectory;
import dev.spruce.spark.SparkSessions;
import dev.spruce.tokenize.HfTokenizer;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code spruce recover}: LoRA recovery of a (pruned) model on instruction data, data-parallel on Spark. */
@Command(name = "recover", mixinStandardHelpOptions = true,
        description = "LoRA recovery (instructions or plain text; LM loss or distillation from the unpruned model); "
                + "writes a PEFT adapter and the merged model.")
public final class RecoverCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private JobOptions job;

    /** The recover settings of a configuration; an empty recover.model means the run's pruned model. */
    static RecoverJob.Settings settings(JobConfig c, boolean resume) {
        String model = c.string("recover.model").isBlank()
                ? Fs.path(c.required("output.dir")) + "/model" : c.string("recover.model");
        int padId;
        try (HfTokenizer tok = HfTokenizer.load(Fs.path(model))) {
            padId = tok.padId();
        }
        LoraSettings lora = new LoraSettings(c.integer("recover.lora.rank"), c.number("recover.lora.alpha"),
                c.number("recover.lora.dropout"), c.strings("recover.lora.target-modules"));
        RecoverJob.DataKind kind = RecoverJob.DataKind.parse(c.string("recover.data.kind"));
        RecoverJob.Distill distill = switch (c.string("recover.objective").trim().toLowerCase(Locale.ROOT)) {
            case "lm" -> null;
            case "distill" -> new RecoverJob.Distill(teacher(c), c.number("recover.distill.temperature"),
                    c.number("recover.distill.lm-weight"), precomputed(c), c.integer("recover.distill.top-k"));
            default -> throw new IllegalArgumentException("recover.objective '" + c.string("recover.objective")
                    + "' is not supported; expected lm or distill");
        };
        boolean full = switch (c.string("recover.trainable").trim().toLowerCase(Locale.ROOT)) {
            case "lora" -> false;
            case "full" -> true;
            default -> throw new IllegalArgumentException("recover.trainable '" + c.string("recover.trainable")
                    + "' is not supported; expected lora or full");
        };
        return new RecoverJob.Settings(model, new TextSource(c.required("recover.data.path"),
                c.string("recover.data.format"), kind == RecoverJob.DataKind.TEXT ? c.string("recover.data.field") : null),
                kind, c.integer("recover.cutoff"), c.integer("recover.data.window"), c.integer("recover.data.windows"),
                c.flag("recover.train-on-inputs"), c.string("recover.dtype"), c.flag("recover.use-best"), full, lora,
                TrainConfig.read(c, "recover.train", padId, resume), distill, c.number("recover.data.max-bad-fraction"),
                kind == RecoverJob.DataKind.INSTRUCTIONS
                        ? PromptTemplate.forChoice(c.string("recover.data.template"), "spruce.recover.data.template")
                        : PromptTemplate.ALPACA);
    }

    private static boolean precomputed(JobConfig c) {
        return switch (c.string("recover.distill.teacher-source").trim().toLowerCase(Locale.ROOT)) {
            case "resident" -> false;
            case "top-k" -> true;
            default -> throw new IllegalArgumentException("recover.distill.teacher-source '"
                    + c.string("recover.distill.teacher-source") + "' is not supported; expected resident or top-k");
        };
    }

    /** The distillation teacher: recover.distill.teacher, or the unpruned input model of the run (model.path). */
    private static String teacher(JobConfig c) {
        if (!c.string("recover.distill.teacher").isBlank()) {
            return c.string("recover.distill.teacher");
        }
        if (c.string("model.path").isBlank()) {
            throw new IllegalArgumentException("recover.objective = distill needs a teacher: set recover.distill.teacher "
                    + "(or model.path, the unpruned model, which is the default teacher)");
        }
        return c.string("model.path");
    }

    @Override
    public Integer call() {
        JobConfig c = job.load();
        RecoverJob.Settings s = settings(c, job.resume);
        // The output is checked (and, on --resume, cleared of stale staging) before Spark starts.
        RunDirectory run = RunDirectory.continueRun(Fs.path(c.required("output.dir")), job.resume);
        SparkSession spark = SparkSessions.create(c.string("spark.app-name"), c.string("spark.master"),
                c.flag("spark.ui"), c.sparkConf());
        RecoverJob.Outcome out = RecoverJob.run(spark, run, s);
        PrintWriter w = spec.commandLine().getOut();
        w.printf("adapter=%s%n", out.adapter());
        w.printf("merged=%s%n", out.merged());
        w.flush();
        return 0;
    }
}
