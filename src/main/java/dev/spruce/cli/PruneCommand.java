package dev.spruce.cli;

import dev.spruce.pipeline.PruneJob;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code spruce prune}: importance on Spark, plan, and the pruned model in Hugging Face layout. */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Estimate importance on Spark, plan the pruning and write the pruned model (LLM-Pruner).")
public final class PruneCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private JobOptions job;

    @Override
    public Integer call() {
        PruneJob.Outcome out = PruneJob.run(PruneConfig.read(job.load()), job.resume);
        PrintWriter w = spec.commandLine().getOut();
        w.printf("model=%s%n", out.modelDir());
        w.printf("params_before=%d%n", out.plan().paramsBefore());
        w.printf("params_after=%d%n", out.plan().paramsAfter());
        w.flush();
        return 0;
    }
}
