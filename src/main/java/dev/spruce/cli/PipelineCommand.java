package dev.spruce.cli;

import dev.spruce.eval.Evaluation;
import dev.spruce.eval.NamedModel;
import dev.spruce.eval.report.EvalReport;
import dev.spruce.io.Fs;
import dev.spruce.pipeline.RecoverJob;
import dev.spruce.pipeline.RunDirectory;
import dev.spruce.spark.SparkSessions;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code spruce pipeline}: the whole run in one command: the pruned model ({@code prune}: LLM-Pruner's importance,
 * plan and apply, or Compresso's masks trained with LoRA, by {@code prune.method}),
 * LoRA recovery ({@code recover}), and a before/after evaluation of the base, pruned and recovered models
 * ({@code evaluate}) printed as a table and written as a report. Each stage resumes with {@code --resume}.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = "prune -> recover -> evaluate, ending with a table of the base, pruned and recovered models.")
public final class PipelineCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private JobOptions job;

    @Override
    public Integer call() {
        JobConfig c = job.load();
        PruneCommand.Pruned pruned = PruneCommand.prune(c, job.resume);
        SparkSession spark = SparkSessions.create(c.string("spark.app-name"), c.string("spark.master"),
                c.flag("spark.ui"), c.sparkConf());
        // prune's RunDirectory.open has already checked the output and, on --resume, removed stale staging.
        RunDirectory run = RunDirectory.continueRun(Fs.path(c.required("output.dir")), false);
        List<NamedModel> models = new ArrayList<>();
        if (c.flag("pipeline.evaluate-base")) {
            models.add(new NamedModel("base", c.required("model.path")));
        }
        models.add(new NamedModel("pruned", pruned.modelDir().toString()));
        if (c.flag("pipeline.recover")) {
            RecoverJob.Outcome recovered = RecoverJob.run(spark, run, RecoverCommand.settings(c, job.resume));
            models.add(new NamedModel("recovered", recovered.merged().toString()));
        }
        Path reportDir = new Path(run.root(), "report");
        Path table = new Path(run.root(), "summary.txt");
        if (!(run.isDone("evaluate") && job.resume)) {
            long started = System.nanoTime();
            Evaluation.Outcome outcome = Evaluation.evaluate(spark, EvaluateConfig.read(c.raw()), models);
            EvalReport report = new EvalReport(outcome.models(), outcome.skipped(), outcome.promptPrefix());
            report.write(reportDir, true);
            Fs.writeStringAtomically(table, report.consoleTable());
            run.markDone("evaluate", (System.nanoTime() - started) / 1e9);
        }
        PrintWriter w = spec.commandLine().getOut();
        w.print(Fs.readString(table));
        w.printf("params_before=%d%n", pruned.plan().paramsBefore());
        w.printf("params_after=%d%n", pruned.plan().paramsAfter());
        w.printf("report=%s%n", reportDir);
        w.flush();
        return 0;
    }
}
