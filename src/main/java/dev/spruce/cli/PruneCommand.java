package dev.spruce.cli;

import dev.spruce.pipeline.CompressoJob;
import dev.spruce.pipeline.PruneJob;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code spruce prune}: the pruned model in Hugging Face layout, by {@code prune.method}: LLM-Pruner (importance on
 * Spark, plan, apply) or Compresso (hard-concrete masks trained with LoRA on Spark, then the apply).
 */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Prune a model on Spark and write the smaller model: LLM-Pruner (importance, plan, apply) or "
                + "Compresso (prune.method = compresso: masks learned with LoRA under a size target).")
public final class PruneCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private JobOptions job;

    /** The pruned model of a run and its plan, whichever method made it. */
    record Pruned(org.apache.hadoop.fs.Path modelDir, dev.spruce.prune.PrunePlan plan) {}

    /** Runs {@code prune.method}: LLM-Pruner (importance, plan, apply) or Compresso (masks with LoRA, apply). */
    static Pruned prune(JobConfig c, boolean resume) {
        if (CompressoConfig.selected(c)) {
            CompressoJob.Outcome out = CompressoJob.run(CompressoConfig.read(c, resume), resume);
            return new Pruned(out.modelDir(), out.plan());
        }
        PruneJob.Outcome out = PruneJob.run(PruneConfig.read(c), resume);
        return new Pruned(out.modelDir(), out.plan());
    }

    @Override
    public Integer call() {
        Pruned out = prune(job.load(), job.resume);
        PrintWriter w = spec.commandLine().getOut();
        w.printf("model=%s%n", out.modelDir());
        w.printf("params_before=%d%n", out.plan().paramsBefore());
        w.printf("params_after=%d%n", out.plan().paramsAfter());
        w.flush();
        return 0;
    }
}
