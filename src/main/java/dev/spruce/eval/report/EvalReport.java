package dev.spruce.eval.report;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.spruce.eval.scoring.ModelResult;
import dev.spruce.eval.scoring.TaskMetrics;
import dev.spruce.eval.tasks.McMetric;
import dev.spruce.eval.tasks.SkippedRecord;
import dev.spruce.io.AtomicDirectory;
import dev.spruce.io.Fs;
import dev.spruce.report.BarChart;
import dev.spruce.report.TextTable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;

/**
 * The evaluation report comparing models: {@value #JSON_FILE} (all numbers), {@value #MARKDOWN_FILE} (the paper's
 * table layout: parameters, perplexities, each task's reported accuracy and their average; then task details,
 * skipped records and generation samples), and bar charts {@value #PERPLEXITY_CHART} and {@value #ACCURACY_CHART}.
 */
public final class EvalReport {
    public static final String JSON_FILE = "report.json";
    public static final String MARKDOWN_FILE = "report.md";
    public static final String PERPLEXITY_CHART = "perplexity.png";
    public static final String ACCURACY_CHART = "accuracy.png";
    public static final int CHART_WIDTH = 1200;
    public static final int CHART_HEIGHT = 640;
    /** Skipped records listed one by one in the markdown; report.json lists them all. */
    static final int LISTED_SKIPPED_RECORDS = 50;
    /** Perplexities spanning more than this ratio are charted on a log axis, so small ones stay readable. */
    private static final double LOG_SCALE_RATIO = 10;
    private static final String MISSING = "–";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final List<ModelResult> models;
    private final List<SkippedRecord> skippedRecords;
    /** Null without a prefix, so report.json then has no such field. */
    private final String promptPrefix;
    private final List<String> datasets;
    private final Map<String, McMetric> tasks;

    public EvalReport(List<ModelResult> models) {
        this(models, List.of());
    }

    /** A report that also lists the skipped records themselves (file, line and reason), not only their counts. */
    public EvalReport(List<ModelResult> models, List<SkippedRecord> skippedRecords) {
        this(models, skippedRecords, "none");
    }

    /**
     * A report of an evaluation whose requests all began with {@code promptPrefix} (spruce.evaluate.prompt-prefix);
     * {@code none} leaves the report as without one.
     */
    public EvalReport(List<ModelResult> models, List<SkippedRecord> skippedRecords, String promptPrefix) {
        if (models.isEmpty()) {
            throw new IllegalArgumentException("a report needs at least one model result");
        }
        this.models = List.copyOf(models);
        this.skippedRecords = List.copyOf(skippedRecords);
        this.promptPrefix = promptPrefix == null || promptPrefix.equals("none") ? null : promptPrefix;
        Set<String> datasetNames = new LinkedHashSet<>();
        Map<String, McMetric> taskMetrics = new LinkedHashMap<>();
        for (ModelResult model : models) {
            datasetNames.addAll(model.perplexities().keySet());
            for (TaskMetrics task : model.tasks()) {
                taskMetrics.putIfAbsent(task.task(), task.reportedMetric());
            }
        }
        this.datasets = List.copyOf(datasetNames);
        this.tasks = taskMetrics;
    }

    public List<ModelResult> models() {
        return models;
    }

    /** Writes all report files into {@code dir}, which the caller commits. */
    public void writeTo(AtomicDirectory dir) {
        Fs.writeStringAtomically(dir.resolve(JSON_FILE), json());
        Fs.writeStringAtomically(dir.resolve(MARKDOWN_FILE), markdown());
        perplexityChart().ifPresent(chart ->
                Fs.writeAtomically(dir.resolve(PERPLEXITY_CHART), chart.png(CHART_WIDTH, CHART_HEIGHT)));
        accuracyChart().ifPresent(chart ->
                Fs.writeAtomically(dir.resolve(ACCURACY_CHART), chart.png(CHART_WIDTH, CHART_HEIGHT)));
    }

    /** Writes the report into a new directory {@code target} that appears only once complete. */
    public void write(Path target, boolean overwrite) {
        try (AtomicDirectory dir = new AtomicDirectory(target, overwrite)) {
            writeTo(dir);
            dir.commit();
        }
    }

    private record ReportDocument(List<ModelResult> models, List<SkippedRecord> skippedRecords,
                                  @JsonInclude(JsonInclude.Include.NON_NULL) String promptPrefix) {}

    public String json() {
        try {
            return JSON.writeValueAsString(new ReportDocument(models, skippedRecords, promptPrefix)) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize the evaluation report: " + e.getOriginalMessage(), e);
        }
    }

    /** The summary table as fixed-width text, for the console. */
    public String consoleTable() {
        return summaryTable().text();
    }

    public String markdown() {
        StringBuilder md = new StringBuilder("# Evaluation report\n\n");
        md.append("Perplexity (PPL): lower is better. Task columns: zero-shot accuracy in percent, each with the "
                + "metric LLM-Pruner reports for it (acc or acc_norm); average: the mean of those over the model's "
                + "tasks.\n\n");
        if (promptPrefix != null) {
            md.append("Every perplexity window and multiple-choice request began with the prompt prefix `")
                    .append(promptPrefix).append("` (`spruce.evaluate.prompt-prefix`), as context that is not scored.\n\n");
        }
        md.append(summaryTable().markdown()).append('\n');
        if (perplexityChart().isPresent()) {
            md.append("![perplexity](").append(PERPLEXITY_CHART).append(")\n\n");
        }
        if (accuracyChart().isPresent()) {
            md.append("![zero-shot accuracy](").append(ACCURACY_CHART).append(")\n\n");
        }
        if (!tasks.isEmpty()) {
            md.append("## Zero-shot tasks in detail\n\n").append(detailTable().markdown()).append('\n');
        }
        md.append("## Skipped records\n\n").append(skippedSection());
        md.append("## Generation samples\n\n").append(generationSection());
        return md.toString();
    }

    private TextTable summaryTable() {
        List<String> headers = new ArrayList<>(List.of("model", "parameters"));
        datasets.forEach(dataset -> headers.add(dataset + " PPL"));
        tasks.forEach((task, metric) -> headers.add(task + " " + metric.label()));
        if (!tasks.isEmpty()) {
            headers.add("average");
        }
        TextTable table = new TextTable(headers);
        for (ModelResult model : models) {
            List<String> row = new ArrayList<>(List.of(model.name(), compactCount(model.parameters())));
            for (String dataset : datasets) {
                Double ppl = model.perplexities().get(dataset);
                row.add(ppl == null ? MISSING : decimal(ppl));
            }
            for (String task : tasks.keySet()) {
                row.add(taskOf(model, task).map(t -> percent(t.reported())).orElse(MISSING));
            }
            if (!tasks.isEmpty()) {
                row.add(model.tasks().isEmpty() ? MISSING : percent(model.averageAccuracy()));
            }
            table.addRow(row);
        }
        return table;
    }

    private TextTable detailTable() {
        TextTable table = new TextTable(List.of("model / task", "docs", "acc", "± stderr", "acc_norm", "± stderr"));
        for (ModelResult model : models) {
            for (TaskMetrics t : model.tasks()) {
                table.addRow(List.of(model.name() + " / " + t.task(), Integer.toString(t.docs()),
                        percent(t.acc()), percent(t.accStderr()),
                        t.accNorm() == null ? MISSING : percent(t.accNorm()),
                        t.accNormStderr() == null ? MISSING : percent(t.accNormStderr())));
            }
        }
        return table;
    }

    private String skippedSection() {
        Set<String> skippedTasks = new LinkedHashSet<>();
        models.forEach(model -> skippedTasks.addAll(model.skippedRecords().keySet()));
        if (skippedTasks.isEmpty() && skippedRecords.isEmpty()) {
            return "No records were skipped.\n\n";
        }
        StringBuilder md = new StringBuilder();
        if (!skippedTasks.isEmpty()) {
            md.append(skippedCountTable(skippedTasks)).append('\n');
        }
        for (SkippedRecord r : skippedRecords.subList(0, Math.min(skippedRecords.size(), LISTED_SKIPPED_RECORDS))) {
            md.append("- ").append(r.task()).append(": `").append(r.file()).append(':').append(r.lineNumber())
                    .append("`: ").append(r.reason().replace('\n', ' ')).append('\n');
        }
        if (skippedRecords.size() > LISTED_SKIPPED_RECORDS) {
            md.append("- and ").append(skippedRecords.size() - LISTED_SKIPPED_RECORDS).append(" more (see ")
                    .append(JSON_FILE).append(")\n");
        }
        return md.append(skippedRecords.isEmpty() ? "" : "\n").toString();
    }

    private String skippedCountTable(Set<String> skippedTasks) {
        List<String> headers = new ArrayList<>(List.of("model"));
        headers.addAll(skippedTasks);
        TextTable table = new TextTable(headers);
        for (ModelResult model : models) {
            List<String> row = new ArrayList<>(List.of(model.name()));
            for (String task : skippedTasks) {
                row.add(Long.toString(model.skippedRecords().getOrDefault(task, 0L)));
            }
            table.addRow(row);
        }
        return table.markdown();
    }

    private String generationSection() {
        StringBuilder md = new StringBuilder();
        for (ModelResult model : models) {
            if (model.generations().isEmpty()) {
                continue;
            }
            md.append("### ").append(model.name()).append("\n\n");
            model.generations().forEach((prompt, text) -> md.append("Prompt:\n\n").append(fenced(prompt))
                    .append("Output:\n\n").append(fenced(text)));
        }
        return md.length() == 0 ? "No generation samples.\n" : md.toString();
    }

    /** A code block whose fence is longer than any backtick run in the text, so the text cannot close it. */
    private static String fenced(String text) {
        int longest = 0;
        Matcher runs = Pattern.compile("`+").matcher(text);
        while (runs.find()) {
            longest = Math.max(longest, runs.group().length());
        }
        String fence = "`".repeat(Math.max(3, longest + 1));
        return fence + "\n" + text + (text.endsWith("\n") ? "" : "\n") + fence + "\n\n";
    }

    /** Perplexity per dataset, one bar per model; empty when no model has a perplexity. */
    public Optional<BarChart> perplexityChart() {
        if (datasets.isEmpty()) {
            return Optional.empty();
        }
        List<BarChart.Series> series = new ArrayList<>();
        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        for (ModelResult model : models) {
            double[] values = new double[datasets.size()];
            for (int i = 0; i < values.length; i++) {
                Double ppl = model.perplexities().get(datasets.get(i));
                values[i] = ppl == null ? Double.NaN : ppl;
                if (ppl != null) {
                    min = Math.min(min, ppl);
                    max = Math.max(max, ppl);
                }
            }
            series.add(new BarChart.Series(model.name(), values));
        }
        boolean log = min > 0 && max / min > LOG_SCALE_RATIO;
        BarChart chart = new BarChart("Perplexity (lower is better)", log ? "perplexity (log scale)" : "perplexity",
                datasets, series);
        return Optional.of(log ? chart.withLogScale() : chart);
    }

    /** Each task's reported accuracy and the average, in percent, one bar per model; empty without tasks. */
    public Optional<BarChart> accuracyChart() {
        if (tasks.isEmpty()) {
            return Optional.empty();
        }
        List<String> categories = new ArrayList<>();
        tasks.forEach((task, metric) -> categories.add(task + "\n(" + metric.label() + ")"));
        categories.add("average");
        List<BarChart.Series> series = new ArrayList<>();
        for (ModelResult model : models) {
            double[] values = new double[categories.size()];
            int i = 0;
            for (String task : tasks.keySet()) {
                values[i++] = taskOf(model, task).map(t -> 100 * t.reported()).orElse(Double.NaN);
            }
            values[i] = 100 * model.averageAccuracy();
            series.add(new BarChart.Series(model.name(), values));
        }
        return Optional.of(new BarChart("Zero-shot accuracy (higher is better)", "accuracy (%)", categories, series)
                .withAxisMax(100));
    }

    private static Optional<TaskMetrics> taskOf(ModelResult model, String task) {
        return model.tasks().stream().filter(t -> t.task().equals(task)).findFirst();
    }

    private static String decimal(double value) {
        return Double.isNaN(value) ? MISSING : String.format(Locale.ROOT, "%.2f", value);
    }

    private static String percent(double fraction) {
        return decimal(100 * fraction);
    }

    /** 5,422,977,024 as "5.42B": the paper's way of giving model sizes. */
    static String compactCount(long count) {
        if (count >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2fB", count / 1e9);
        }
        if (count >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.2fM", count / 1e6);
        }
        if (count >= 1_000L) {
            return String.format(Locale.ROOT, "%.1fK", count / 1e3);
        }
        return Long.toString(count);
    }
}
