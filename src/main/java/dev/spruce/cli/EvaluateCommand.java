package dev.spruce.cli;

import dev.spruce.eval.EvaluateSettings;
import dev.spruce.eval.Evaluation;
import dev.spruce.eval.NamedModel;
import dev.spruce.eval.report.EvalReport;
import dev.spruce.eval.tasks.SkippedRecord;
import dev.spruce.io.Fs;
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
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code spruce evaluate}: perplexity and zero-shot accuracy of models on Spark, written as a report. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Evaluate models (perplexity, zero-shot multiple choice, generation samples) on Spark and "
                + "write report.json, report.md and charts (spruce.evaluate in reference.conf).")
public final class EvaluateCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private JobOptions job;

    @Option(names = "--model", paramLabel = "[NAME=]PATH",
            description = "A model directory in Hugging Face layout, named after its directory unless NAME= is "
                    + "given (repeatable; the report compares the models in this order). Default: spruce.model.path.")
    private List<String> models = new ArrayList<>();

    @Override
    public Integer call() {
        if (job.resume) {
            throw new IllegalArgumentException("evaluate has no stages to resume; run it again (it writes only the "
                    + "report)");
        }
        JobConfig c = job.load();
        EvaluateSettings settings = EvaluateConfig.read(c.raw());
        List<NamedModel> named = new ArrayList<>();
        for (String model : models.isEmpty() ? List.of(c.required("model.path")) : models) {
            named.add(NamedModel.parse(model));
        }
        Path reportDir = reportDir(c);
        boolean overwrite = c.flag("output.overwrite");
        requireReportTarget(reportDir, overwrite);
        SparkSession spark = SparkSessions.create(c.string("spark.app-name"), c.string("spark.master"),
                c.flag("spark.ui"), c.sparkConf());
        Evaluation.Outcome outcome = Evaluation.evaluate(spark, settings, named);
        EvalReport report = new EvalReport(outcome.models(), outcome.skipped(), outcome.promptPrefix());
        report.write(reportDir, overwrite);

        PrintWriter out = spec.commandLine().getOut();
        out.print(report.consoleTable());
        for (SkippedRecord r : outcome.skipped()) {
            out.println("skipped " + r);
        }
        out.println("report=" + reportDir);
        out.flush();
        return 0;
    }

    /**
     * Checks the report's place before Spark starts: an existing report is replaced only with output.overwrite, and
     * only when it is a report (a directory with report.json), never another file or directory; the report is
     * staged beside its target, so the parent must take new files.
     */
    static void requireReportTarget(Path reportDir, boolean overwrite) {
        if (Fs.exists(reportDir)) {
            if (!overwrite) {
                throw new IllegalArgumentException("report " + reportDir + " already exists; set output.overwrite = "
                        + "true to replace it");
            }
            if (!Fs.isDirectory(reportDir) || !Fs.exists(new Path(reportDir, EvalReport.JSON_FILE))) {
                throw new IllegalArgumentException("report " + reportDir + " is not a spruce report (a directory with "
                        + EvalReport.JSON_FILE + "), and output.overwrite = true replaces only an earlier report; "
                        + "choose another evaluate.report-dir or output.dir");
            }
        }
        Fs.requireWritableDirectory(reportDir.getParent(), "report directory");
    }

    /** {@code evaluate.report-dir}, else {@code <output.dir>/report}. */
    static Path reportDir(JobConfig c) {
        String explicit = c.string("evaluate.report-dir");
        if (!explicit.isBlank()) {
            return Fs.path(explicit);
        }
        String output = c.string("output.dir");
        if (output.isBlank()) {
            throw new IllegalArgumentException("configuration: set spruce.output.dir (the report goes to "
                    + "<output.dir>/report) or spruce.evaluate.report-dir");
        }
        return new Path(Fs.path(output), "report");
    }
}
