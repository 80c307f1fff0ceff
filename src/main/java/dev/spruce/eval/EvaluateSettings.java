package dev.spruce.eval;

import dev.spruce.data.CollaborativePrompt;
import dev.spruce.data.TextSource;
import dev.spruce.eval.tasks.McFormat;
import dev.spruce.eval.tasks.McLoadResult;
import dev.spruce.eval.tasks.McTask;
import dev.spruce.eval.tasks.McTaskLoader;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.eval.tasks.TextRecords;
import dev.spruce.io.Fs;
import dev.spruce.model.Generator;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * What {@code spruce evaluate} (and the pipeline's evaluate stage) measures: the {@code spruce.evaluate} section
 * of the configuration (read by {@code cli.EvaluateConfig}), documented option by option in reference.conf.
 *
 * @param maxLength   most tokens read per multiple-choice request (the context is cut from the left); 0 = the
 *                    model's {@code max_position_embeddings}
 * @param batchTokens padded tokens per forward batch on an executor
 * @param partitions  Spark tasks per scoring job; 0 = Spark's default parallelism
 * @param dtype       compute precision on the executors
 * @param cpuOnly     ignore GPUs assigned to tasks
 * @param promptPrefix text put before every scored request: {@code none}, {@code training} or {@code past}
 *                    (Compresso's collaborative prompt, {@code data.CollaborativePrompt}) or a prompt file's path
 */
public record EvaluateSettings(List<PerplexityDataset> perplexity, List<TaskFile> tasks, int maxLength,
                               int batchTokens, int partitions, String dtype, boolean cpuOnly, Generation generation,
                               String promptPrefix) {
    public static final List<String> PERPLEXITY_FORMATS = List.of("text", "jsonl", "parquet");
    private static final String SECTION = "spruce.evaluate";
    public static final String PROMPT_PREFIX_SETTING = SECTION + ".prompt-prefix";

    /** Settings without a prompt prefix (every request as the harness builds it). */
    public EvaluateSettings(List<PerplexityDataset> perplexity, List<TaskFile> tasks, int maxLength, int batchTokens,
                            int partitions, String dtype, boolean cpuOnly, Generation generation) {
        this(perplexity, tasks, maxLength, batchTokens, partitions, dtype, cpuOnly, generation, "none");
    }

    public EvaluateSettings {
        perplexity = List.copyOf(perplexity);
        tasks = List.copyOf(tasks);
        requireUnique(perplexity.stream().map(PerplexityDataset::name).toList(), "perplexity");
        requireUnique(tasks.stream().map(TaskFile::name).toList(), "tasks");
        if (maxLength < 0) {
            throw new IllegalArgumentException(SECTION + ".max-length must be >= 0 (0 = the model's context), got "
                    + maxLength);
        }
        if (batchTokens < 1) {
            throw new IllegalArgumentException(SECTION + ".batch-tokens must be positive, got " + batchTokens);
        }
        if (partitions < 0) {
            throw new IllegalArgumentException(SECTION + ".partitions must be >= 0, got " + partitions);
        }
        if (promptPrefix == null || promptPrefix.isBlank()) {
            throw new IllegalArgumentException(PROMPT_PREFIX_SETTING + " is empty; expected none, training, past or the "
                    + "path of a text file");
        }
        promptPrefix = promptPrefix.trim();
    }

    /** The prefix text ({@code ""} for none), read and checked now: a bad file fails before any Spark work. */
    public String promptPrefixText() {
        return CollaborativePrompt.evaluationPrefix(promptPrefix, PROMPT_PREFIX_SETTING);
    }

    /**
     * A perplexity corpus and its protocol.
     *
     * @param format text, jsonl or parquet
     * @param field  the text field of jsonl and parquet records
     * @param stride 0 (or seqLen) = non-overlapping windows; smaller = sliding windows
     */
    public record PerplexityDataset(String name, String path, String format, String field, int seqLen, int stride) {
        public PerplexityDataset {
            format = format.toLowerCase(Locale.ROOT);
            if (!PERPLEXITY_FORMATS.contains(format)) {
                throw new IllegalArgumentException("perplexity dataset " + name + ": format '" + format
                        + "' is not supported; expected one of " + PERPLEXITY_FORMATS);
            }
            protocol(seqLen, stride);
        }

        public PerplexityProtocol protocol() {
            return protocol(seqLen, stride);
        }

        private static PerplexityProtocol protocol(int seqLen, int stride) {
            return stride == 0 || stride == seqLen ? PerplexityProtocol.nonOverlapping(seqLen)
                    : PerplexityProtocol.sliding(seqLen, stride);
        }

        /**
         * The records in file order. Text and JSON Lines are read line by line on the driver; Parquet goes
         * through Spark, and a directory's files are taken in name order (the protocol joins records, so order
         * matters). Null values are not records.
         */
        public List<String> records(SparkSession spark) {
            if (!format.equals("parquet")) {
                return TextRecords.read(Fs.path(path), TextRecords.Format.parse(format), field);
            }
            TextSource source = new TextSource(path, format, field);
            Dataset<Row> rows = source.rows(spark);
            source.requireColumn(rows, field);
            List<Row> collected = new ArrayList<>(rows
                    .select(functions.input_file_name(), functions.col(field).cast("string"))
                    .collectAsList());
            // Spark lists a file's splits in offset order; a stable sort by file restores file order.
            collected.sort(Comparator.comparing((Row r) -> r.getString(0)));
            List<String> records = new ArrayList<>(collected.size());
            for (Row r : collected) {
                if (!r.isNullAt(1)) {
                    records.add(r.getString(1));
                }
            }
            return records;
        }
    }

    /** A zero-shot task file (JSON Lines) in one of the {@link McFormat}s. */
    public record TaskFile(String name, String path, McFormat format) {
        public McTask task() {
            return new McTask(name, format);
        }

        public McLoadResult load() {
            return McTaskLoader.load(task(), Fs.path(path));
        }
    }

    /** Fixed prompts continued by each model; no prompts, no generation. */
    public record Generation(List<String> prompts, Generator.Settings sampling) {
        public Generation {
            prompts = List.copyOf(prompts);
        }
    }

    private static void requireUnique(List<String> names, String list) {
        Set<String> seen = new HashSet<>();
        for (String name : names) {
            if (!seen.add(name)) {
                throw new IllegalArgumentException(SECTION + "." + list + ": the name '" + name
                        + "' is used twice (names label the report's columns)");
            }
        }
    }
}
