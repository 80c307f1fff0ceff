package dev.spruce.pipeline;

import dev.spruce.data.CalibrationSet;
import dev.spruce.data.ContentKeys;
import dev.spruce.data.InputCheck;
import dev.spruce.data.TokenSample;
import dev.spruce.importance.DistributedImportance;
import dev.spruce.importance.ImportanceScores;
import dev.spruce.importance.ImportanceScoresJson;
import dev.spruce.importance.ScoringSettings;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.memory.ImportancePlan;
import dev.spruce.memory.MemoryCheck;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.WeightCheck;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.prune.ApplyOptions;
import dev.spruce.prune.PlanApplier;
import dev.spruce.prune.PlanSettings;
import dev.spruce.prune.Planner;
import dev.spruce.prune.PrunePlan;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.SparkSessions;
import dev.spruce.tokenize.HfTokenizer;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The main job: importance on the executors, the plan on the driver, then the pruned model streamed to
 * the output. Stages: {@code importance} (scores.json, scores.parquet), {@code plan} (plan.json) and
 * {@code apply} (model/); with {@code iterative-steps} K > 1 each step k has its own {@code step-k/}
 * directory and prunes the previous step's model, and the last step's model becomes {@code model/}.
 */
public final class PruneJob {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");

    /** Everything the job needs, read from configuration. */
    public record Settings(String modelPath, String dtype, boolean cpuOnly, String outputDir, boolean overwrite,
                           long maxShardBytes, CalibrationSet.Settings calibration, int microBatch,
                           ScoringSettings scoring, int blockElements, PlanSettings plan, String master,
                           String appName, boolean ui, Map<String, String> sparkConf, String configJson,
                           double maxBadFraction) {}

    /** What a finished run produced. */
    public record Outcome(Path modelDir, PrunePlan plan, ImportanceScores scores) {}

    private final Settings s;
    private final SparkSession spark;
    private final RunDirectory run;

    private PruneJob(Settings s, SparkSession spark, RunDirectory run) {
        this.s = s;
        this.spark = spark;
        this.run = run;
    }

    /** Runs (or, with {@code resume}, continues) the job. */
    public static Outcome run(Settings s, boolean resume) {
        Path source = Fs.path(s.modelPath());
        requireModel(source);
        new ModelRef(s.modelPath(), s.dtype(), s.cpuOnly()); // validates model.dtype before any work
        InputCheck.Report input = InputCheck.check(s.calibration().source(), "calibration", s.maxBadFraction());
        logInput("calibration", input);
        RunDirectory run = RunDirectory.open(Fs.path(s.outputDir()), resume, s.overwrite());
        SparkSession spark = SparkSessions.create(s.appName(), s.master(), s.ui(), s.sparkConf());
        run.put("configuration", parse(s.configJson()));
        run.put("calibration_input", input.toMap());
        run.put("versions", Versions.all(spark));
        return new PruneJob(s, spark, run).execute();
    }

    /** Logs what the input check counted, with a warning when records will be dropped. */
    static void logInput(String what, InputCheck.Report r) {
        LOG.info("{}: {} file(s), {} records in {}", what, r.files(), r.records(), r.path());
        if (r.malformed() + r.tooLong() > 0) {
            LOG.warn("{}: dropping {} malformed and {} over-long records of {} (first: {})", what, r.malformed(),
                    r.tooLong(), r.records(), r.firstProblem());
        }
    }

    static com.fasterxml.jackson.databind.JsonNode parse(String json) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private Outcome execute() {
        int steps = s.plan().iterativeSteps();
        LlamaConfig original = LlamaConfig.read(Fs.path(s.modelPath()));
        Path current = Fs.path(s.modelPath());
        Outcome last = null;
        for (int k = 1; k <= steps; k++) {
            String prefix = steps == 1 ? "" : "step-" + k + "/";
            last = step(original, current, k, prefix);
            current = last.modelDir();
        }
        if (steps > 1 && !run.isDone("publish")) {
            long t = System.nanoTime();
            if (!rename(current, run.resolve("model"))) {
                throw new IllegalStateException("cannot move " + current + " to " + run.resolve("model"));
            }
            Fs.copy(new Path(current.getParent(), "plan.json"), run.resolve("plan.json"));
            run.markDone("publish", (System.nanoTime() - t) / 1e9);
        }
        Path model = run.resolve("model");
        LOG.info("prune: done; pruned model in {} ({} -> {} parameters)", model, last.plan().paramsBefore(),
                last.plan().paramsAfter());
        return new Outcome(model, last.plan(), last.scores());
    }

    private static boolean rename(Path from, Path to) {
        try {
            return Fs.fs(from).rename(from, to);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private Outcome step(LlamaConfig original, Path modelDir, int k, String prefix) {
        String suffix = prefix.isEmpty() ? "" : "-" + k;
        LlamaConfig current = LlamaConfig.read(modelDir);
        ImportanceScores scores = importance(modelDir, current, prefix, suffix);
        PrunePlan plan;
        Path planFile = run.resolve(prefix + "plan.json");
        if (run.isDone("plan" + suffix)) {
            plan = PrunePlan.read(planFile);
        } else {
            long t = System.nanoTime();
            plan = s.plan().iterativeSteps() == 1 ? Planner.plan(current, scores, s.plan())
                    : Planner.planStep(original, current, scores, s.plan(), k);
            plan.write(planFile);
            LOG.info("plan{}: {} -> {} parameters ({}% kept)", suffix, plan.paramsBefore(), plan.paramsAfter(),
                    String.format("%.2f", 100.0 * plan.paramsAfter() / plan.paramsBefore()));
            run.markDone("plan" + suffix, (System.nanoTime() - t) / 1e9);
        }
        Path out = run.resolve(prefix + "model");
        if (!run.isDone("apply" + suffix)) {
            long t = System.nanoTime();
            PlanApplier.apply(modelDir, plan, out, new ApplyOptions(true, s.maxShardBytes(), scores));
            run.markDone("apply" + suffix, (System.nanoTime() - t) / 1e9);
        }
        return new Outcome(out, plan, scores);
    }

    private ImportanceScores importance(Path modelDir, LlamaConfig config, String prefix, String suffix) {
        Path scoresFile = run.resolve(prefix + "scores.json");
        if (run.isDone("importance" + suffix)) {
            LOG.info("importance{}: already done, reading {}", suffix, scoresFile);
            return ImportanceScoresJson.read(scoresFile);
        }
        // Fails fast, before the executors load anything, when the stage cannot fit them (docs/MEMORY.md).
        MemoryCheck.require(spark, new ImportancePlan(config, s.dtype(), s.scoring().criterion().referenceName(),
                s.microBatch(), s.calibration().length(), s.scoring().attentionLayers(), s.scoring().mlpLayers(),
                s.scoring().hiddenChannels(), s.blockElements()), s.cpuOnly());
        long t = System.nanoTime();
        Dataset<TokenSample> samples = CalibrationSet.build(spark, s.calibration(), s.modelPath()).cache();
        Map<String, Object> fingerprint = fingerprint(samples);
        int padId;
        try (HfTokenizer tok = HfTokenizer.load(Fs.path(s.modelPath()))) {
            padId = tok.padId();
        }
        DistributedImportance.Result r;
        try (SafetensorsModel weights = SafetensorsModel.open(modelDir)) {
            r = DistributedImportance.run(spark, new ModelRef(modelDir.toString(), s.dtype(), s.cpuOnly()), config,
                    ModelFiles.weights(weights), samples, s.scoring(), s.microBatch(), padId, s.blockElements(),
                    ((Number) fingerprint.get("samples")).longValue());
        }
        samples.unpersist();
        run.claim();
        ImportanceScoresJson.write(scoresFile, r.scores());
        ScoreTable.writeParquet(spark, config, r.scores(), run.resolve(prefix + "scores.parquet"));
        run.put("calibration" + suffix, Map.of("fingerprint", fingerprint, "samples", r.samples(), "tokens",
                r.tokens(), "seed", s.calibration().seed(), "protocol", s.calibration().protocol().name()
                        .toLowerCase(Locale.ROOT)));
        run.put("importance" + suffix, Map.of("criterion", s.scoring().criterion().referenceName(),
                "compute_seconds", r.computeSeconds(), "reduce_seconds", r.reduceSeconds()));
        run.markDone("importance" + suffix, (System.nanoTime() - t) / 1e9);
        return r.scores();
    }

    /** An order-independent fingerprint of the calibration tokens: count, tokens and a 64-bit content sum. */
    static Map<String, Object> fingerprint(Dataset<TokenSample> samples) {
        long[] acc = samples.javaRDD().map(t -> new long[] {1, t.getTokens().length,
                        ContentKeys.mix(t.getId(), java.util.Arrays.hashCode(t.getTokens()), t.getTokens().length)})
                .fold(new long[3], (a, b) -> new long[] {a[0] + b[0], a[1] + b[1], a[2] + b[2]});
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("samples", acc[0]);
        f.put("tokens", acc[1]);
        f.put("content_sum", String.format("%016x", acc[2]));
        return f;
    }

    /**
     * Fails with a clear message (and before any output exists) when the model directory is incomplete, or its
     * weights disagree with its config or hold NaN in a sample ({@link WeightCheck}).
     */
    static void requireModel(Path dir) {
        if (!Fs.exists(dir)) {
            throw new InvalidModelException(dir + ": model directory not found");
        }
        LlamaConfig.read(dir);
        if (!Fs.exists(new Path(dir, SafetensorsModel.SINGLE_FILE)) && !Fs.exists(new Path(dir, SafetensorsModel.INDEX_FILE))) {
            throw new InvalidModelException(dir + ": no weights (expected " + SafetensorsModel.SINGLE_FILE + " or "
                    + SafetensorsModel.INDEX_FILE + ")");
        }
        if (!Fs.exists(new Path(dir, HfTokenizer.TOKENIZER_FILE))) {
            throw new InvalidModelException(dir + ": tokenizer.json not found (calibration text is tokenized with the "
                    + "model's own tokenizer)");
        }
        ModelFiles.check(dir, WeightCheck.Scan.SAMPLE);
        try (HfTokenizer tokenizer = HfTokenizer.load(dir)) {
            // loaded here so that a broken tokenizer.json fails on the driver, not inside the first task
            tokenizer.vocabSize();
        }
    }
}
