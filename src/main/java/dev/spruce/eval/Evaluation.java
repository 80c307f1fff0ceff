package dev.spruce.eval;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.eval.scoring.ChoiceLoglikelihood;
import dev.spruce.eval.scoring.DistributedEvaluation;
import dev.spruce.eval.scoring.McScorer;
import dev.spruce.eval.scoring.ModelResult;
import dev.spruce.eval.scoring.PerplexityResult;
import dev.spruce.eval.scoring.TaskMetrics;
import dev.spruce.eval.tasks.LoglikelihoodRequest;
import dev.spruce.eval.tasks.McDoc;
import dev.spruce.eval.tasks.McLoadResult;
import dev.spruce.eval.tasks.McRequestBuilder;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.eval.tasks.PromptPrefix;
import dev.spruce.eval.tasks.SkippedRecord;
import dev.spruce.io.Fs;
import dev.spruce.memory.EvaluationPlan;
import dev.spruce.memory.MemoryCheck;
import dev.spruce.model.Generator;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.WeightCheck;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.Progress;
import dev.spruce.tokenize.HfTokenizer;
import dev.spruce.tokenize.Tokenizer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Evaluates models one after another: perplexity on each corpus and the zero-shot tasks scored on the executors
 * ({@link DistributedEvaluation}), generation samples on the driver's CPU. Corpora and task files are read once
 * and tokenized with each model's own tokenizer. Spark jobs are described as
 * {@code evaluate: perplexity wikitext2 [model] i/n} and {@code evaluate: task boolq [model] i/n}.
 */
public final class Evaluation {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");

    /**
     * The results per model, and every record skipped on the way: malformed task records (the same for every
     * model) and documents whose choices a model's tokenizer could not turn into requests.
     */
    public record Outcome(List<ModelResult> models, List<SkippedRecord> skipped, String promptPrefix) {
        public Outcome {
            models = List.copyOf(models);
            skipped = List.copyOf(skipped);
        }

        /** Without a prompt prefix. */
        public Outcome(List<ModelResult> models, List<SkippedRecord> skipped) {
            this(models, skipped, "none");
        }
    }

    private final SparkSession spark;
    private final EvaluateSettings settings;
    private final Map<String, List<String>> corpora = new LinkedHashMap<>();
    private final Map<String, McLoadResult> taskFiles = new LinkedHashMap<>();
    private final Set<SkippedRecord> skipped = new LinkedHashSet<>();
    private final String prefixText;
    private long finishedUnits;

    private Evaluation(SparkSession spark, EvaluateSettings settings, String prefixText) {
        this.spark = spark;
        this.settings = settings;
        this.prefixText = prefixText;
    }

    /** Evaluates every model; the results are in the order of {@code models}. */
    public static List<ModelResult> run(SparkSession spark, EvaluateSettings settings, List<NamedModel> models) {
        return evaluate(spark, settings, models).models();
    }

    /** As {@link #run}, also returning the skipped records for the report. */
    public static Outcome evaluate(SparkSession spark, EvaluateSettings settings, List<NamedModel> models) {
        requireDistinctNames(models);
        String prefixText = settings.promptPrefixText();
        for (NamedModel m : models) {
            // Fail on a bad model (config, weights against config, sampled NaN scan, tokenizer) before any Spark work.
            ModelFiles.check(Fs.path(m.path()), WeightCheck.Scan.SAMPLE);
            LlamaConfig config = LlamaConfig.read(Fs.path(m.path()));
            PromptPrefix prefix;
            try (HfTokenizer tokenizer = HfTokenizer.load(Fs.path(m.path()))) {
                prefix = promptPrefix(settings, prefixText, tokenizer);
            }
            requirePrefixFits(settings, config, prefix, m);
            new ModelRef(m.path(), settings.dtype(), settings.cpuOnly());
            MemoryCheck.require(spark, memoryPlan(settings, config, prefix.length()), settings.cpuOnly());
        }
        Evaluation evaluation = new Evaluation(spark, settings, prefixText);
        Progress progress = new Progress(spark, "evaluate",
                (long) models.size() * (settings.perplexity().size() + settings.tasks().size()));
        List<ModelResult> results = new ArrayList<>();
        for (NamedModel model : models) {
            results.add(evaluation.evaluate(model, progress));
        }
        progress.finish();
        return new Outcome(results, new ArrayList<>(evaluation.skipped), settings.promptPrefix());
    }

    /**
     * The settings' prompt prefix as this tokenizer's ids, without BOS (each request builder places it relative to
     * its own BOS, {@link PromptPrefix}).
     */
    public static PromptPrefix promptPrefix(EvaluateSettings settings, String prefixText, Tokenizer tokenizer) {
        return prefixText.isEmpty() ? PromptPrefix.NONE
                : new PromptPrefix(settings.promptPrefix(), tokenizer.encode(prefixText, false));
    }

    /**
     * Refuses a prefix that would push requests past what the model reads: every multiple-choice request must
     * keep one context and one continuation token within max-length, and a perplexity window that fits the
     * model's positions must still fit with the prefix (a seq-len that is already longer is the user's choice).
     */
    static void requirePrefixFits(EvaluateSettings settings, LlamaConfig config, PromptPrefix prefix, NamedModel model) {
        if (prefix.isEmpty()) {
            return;
        }
        String what = EvaluateSettings.PROMPT_PREFIX_SETTING + " = " + settings.promptPrefix() + " is " + prefix.length()
                + " tokens with the tokenizer of model " + model.name() + " (" + model.path() + ")";
        int maxLength = settings.maxLength() > 0 ? settings.maxLength() : config.maxPositionEmbeddings();
        if (!settings.tasks().isEmpty() && prefix.length() > maxLength - 1) {
            throw new IllegalArgumentException(what + ", which leaves no room for a multiple-choice request in "
                    + "max-length " + maxLength + "; expected at most " + (maxLength - 1) + " prefix tokens (raise "
                    + "spruce.evaluate.max-length or use a shorter prefix)");
        }
        int positions = config.maxPositionEmbeddings();
        for (EvaluateSettings.PerplexityDataset d : settings.perplexity()) {
            if (d.seqLen() <= positions && d.seqLen() + prefix.length() > positions) {
                throw new IllegalArgumentException(what + ": perplexity " + d.name() + " windows of seq-len "
                        + d.seqLen() + " would be " + (d.seqLen() + prefix.length()) + " tokens, more than the model's "
                        + "max_position_embeddings " + positions + "; expected "
                        + (prefix.length() <= positions - 2 ? "seq-len at most " + (positions - prefix.length())
                                + " with this prefix" : "a prefix of at most " + (positions - 2) + " tokens"));
            }
        }
    }

    /** What scoring holds on an executor, without a prompt prefix. */
    public static EvaluationPlan memoryPlan(EvaluateSettings settings, LlamaConfig config) {
        return memoryPlan(settings, config, 0);
    }

    /**
     * What scoring holds on an executor: one batch of batch-tokens in sequences up to the longest one scored; a
     * prompt prefix of {@code prefixTokens} lengthens every perplexity window (multiple-choice requests stay
     * within max-length).
     */
    public static EvaluationPlan memoryPlan(EvaluateSettings settings, LlamaConfig config, int prefixTokens) {
        int longest = 1;
        for (EvaluateSettings.PerplexityDataset d : settings.perplexity()) {
            longest = Math.max(longest, d.seqLen() + prefixTokens);
        }
        if (!settings.tasks().isEmpty()) {
            longest = Math.max(longest, settings.maxLength() > 0 ? settings.maxLength() : config.maxPositionEmbeddings());
        }
        if (settings.perplexity().isEmpty() && settings.tasks().isEmpty()) {
            longest = dev.spruce.eval.tasks.PerplexityProtocol.DEFAULT_SEQ_LEN;
        }
        return new EvaluationPlan(config, settings.dtype(), settings.batchTokens(), longest);
    }

    private ModelResult evaluate(NamedModel model, Progress progress) {
        Path dir = Fs.path(model.path());
        LlamaConfig config = LlamaConfig.read(dir);
        ModelRef ref = new ModelRef(model.path(), settings.dtype(), settings.cpuOnly());
        DistributedEvaluation scoring = new DistributedEvaluation(spark, ref, settings.partitions(),
                settings.batchTokens());
        Map<String, Double> perplexities = new LinkedHashMap<>();
        List<TaskMetrics> tasks = new ArrayList<>();
        Map<String, Long> skippedCounts = new LinkedHashMap<>();
        Map<String, String> generations;
        try (HfTokenizer tokenizer = HfTokenizer.load(dir)) {
            // One prefix for every request of this model, in its own tokenizer's ids; NONE changes nothing.
            PromptPrefix prefix = promptPrefix(settings, prefixText, tokenizer);
            if (!prefix.isEmpty()) {
                LOG.info("evaluate: {}: prompt prefix {} before every request", model.name(), prefix);
            }
            for (EvaluateSettings.PerplexityDataset dataset : settings.perplexity()) {
                progress.describe("perplexity " + dataset.name() + " [" + model.name() + "]", finishedUnits + 1);
                List<PerplexityWindow> windows = dataset.protocol().windows(corpus(dataset), tokenizer, prefix);
                long scoringStarted = System.nanoTime();
                PerplexityResult result = scoring.perplexity(windows);
                double scoringSeconds = (System.nanoTime() - scoringStarted) / 1e9;
                if (!Double.isFinite(result.perplexity())) {
                    throw nonFinite(model, "perplexity on " + dataset.name() + " is " + result.perplexity());
                }
                perplexities.put(dataset.name(), result.perplexity());
                LOG.info("evaluate: {} perplexity on {} = {} ({} windows, {} tokens scored, {}, {}s)", model.name(),
                        dataset.name(), String.format(Locale.ROOT, "%.4f", result.perplexity()), windows.size(),
                        result.count(), dataset.protocol(), String.format(Locale.ROOT, "%.2f", scoringSeconds));
                progress.done(++finishedUnits);
            }
            int maxLength = settings.maxLength() > 0 ? settings.maxLength() : config.maxPositionEmbeddings();
            // Built only for tasks: a long prefix must not fail a perplexity-only run on the tasks' length budget.
            McRequestBuilder requests = settings.tasks().isEmpty() ? null
                    : new McRequestBuilder(tokenizer, maxLength, prefix);
            for (EvaluateSettings.TaskFile taskFile : settings.tasks()) {
                progress.describe("task " + taskFile.name() + " [" + model.name() + "]", finishedUnits + 1);
                McLoadResult loaded = taskFile(taskFile);
                TaskMetrics metrics = task(model, loaded, taskFile, requests, scoring, skippedCounts);
                tasks.add(metrics);
                LOG.info("evaluate: {} on {}: {} = {} over {} documents", model.name(), taskFile.name(),
                        metrics.reportedMetric().label(), String.format(Locale.ROOT, "%.4f", metrics.reported()),
                        metrics.docs());
                progress.done(++finishedUnits);
            }
            generations = generate(dir, tokenizer);
        } finally {
            scoring.release();
        }
        return new ModelResult(model.name(), config.parameterCount(), perplexities, tasks, skippedCounts, generations);
    }

    private TaskMetrics task(NamedModel model, McLoadResult loaded, EvaluateSettings.TaskFile file,
                             McRequestBuilder builder, DistributedEvaluation scoring, Map<String, Long> skippedCounts) {
        List<McDoc> docs = new ArrayList<>();
        List<LoglikelihoodRequest> requests = new ArrayList<>();
        long skippedDocs = loaded.skipped().size();
        skipped.addAll(loaded.skipped());
        for (McDoc doc : loaded.docs()) {
            try {
                requests.addAll(builder.requests(doc));
                docs.add(doc);
            } catch (IllegalArgumentException e) {
                // A choice this tokenizer cannot score (no tokens, or longer than the context) drops its document.
                skipped.add(new SkippedRecord(file.name(), file.path(), doc.lineNumber(), e.getMessage()));
                skippedDocs++;
            }
        }
        skippedCounts.put(file.name(), skippedDocs);
        if (docs.isEmpty()) {
            throw new IllegalArgumentException("task " + file.name() + ": " + file.path() + " has no usable record ("
                    + skippedDocs + " skipped)");
        }
        List<ChoiceLoglikelihood> scored = scoring.loglikelihoods(requests);
        for (ChoiceLoglikelihood c : scored) {
            if (!Double.isFinite(c.loglikelihood())) {
                throw nonFinite(model, "task " + file.name() + ": the log-likelihood of choice " + c.choiceIndex()
                        + " of document " + c.docKey() + " is " + c.loglikelihood());
            }
        }
        return McScorer.score(loaded.task(), docs, scored);
    }

    /** A result that is not a number is refused, not reported: it says the model is broken, not how good it is. */
    private static IllegalStateException nonFinite(NamedModel model, String what) {
        return new IllegalStateException("evaluate: model " + model.name() + " (" + model.path() + "): " + what
                + ", expected a finite value; its forward pass overflows or its weights are not finite (check them "
                + "with spruce inspect)");
    }

    private List<String> corpus(EvaluateSettings.PerplexityDataset dataset) {
        return corpora.computeIfAbsent(dataset.name(), name -> dataset.records(spark));
    }

    private McLoadResult taskFile(EvaluateSettings.TaskFile file) {
        return taskFiles.computeIfAbsent(file.name(), name -> {
            McLoadResult loaded = file.load();
            for (SkippedRecord r : loaded.skipped()) {
                LOG.warn("evaluate: skipped {}", r);
            }
            return loaded;
        });
    }

    /**
     * Continues each prompt on the driver's CPU (BOS first when the tokenizer has one; stops at EOS). Half
     * precision is unusable on CPU, so float16 and bfloat16 models generate in float32.
     */
    private Map<String, String> generate(Path dir, Tokenizer tokenizer) {
        EvaluateSettings.Generation g = settings.generation();
        Map<String, String> out = new LinkedHashMap<>();
        if (g.prompts().isEmpty()) {
            return out;
        }
        DataType type = settings.dtype().equals("float64") ? DataType.FLOAT64 : DataType.FLOAT32;
        try (LlamaModel model = ModelFiles.load(dir, type, Device.cpu())) {
            for (String prompt : g.prompts()) {
                int[] ids = tokenizer.encode(prompt, tokenizer.bosId() >= 0);
                out.put(prompt, tokenizer.decode(Generator.generate(model, ids, g.sampling(), tokenizer.eosId())));
            }
        }
        return out;
    }

    private static void requireDistinctNames(List<NamedModel> models) {
        if (models.isEmpty()) {
            throw new IllegalArgumentException("no model to evaluate");
        }
        Set<String> names = new HashSet<>();
        for (NamedModel m : models) {
            if (!names.add(m.name())) {
                throw new IllegalArgumentException("two models are named '" + m.name() + "'; name them with NAME=PATH");
            }
        }
    }
}
