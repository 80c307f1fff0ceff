package dev.spruce.pipeline;

import dev.spruce.data.CalibrationSet;
import dev.spruce.data.InputCheck;
import dev.spruce.data.InstructionSet;
import dev.spruce.data.PromptTemplate;
import dev.spruce.data.TextSource;
import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.lora.PeftExport;
import dev.spruce.memory.MemoryCheck;
import dev.spruce.memory.RecoveryPlan;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.ModelRef;
import dev.spruce.train.FullTrainable;
import dev.spruce.train.LoraTrainable;
import dev.spruce.train.Objective;
import dev.spruce.train.TrainResult;
import dev.spruce.train.TeacherTopK;
import dev.spruce.train.TrainSettings;
import dev.spruce.train.Trainable;
import dev.spruce.train.Trainer;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery with LoRA on the synchronous data-parallel trainer, then the adapter in PEFT layout and the merged model
 * in Hugging Face layout under {@code <run>/recover}. Two data kinds: Alpaca records rendered with the reference
 * template (LLM-Pruner's setting, llm-pruner.md §4) or plain-text windows; two objectives: the LM loss, or
 * distillation from the unpruned model ({@link Objective.Distillation}). Stage {@code recover}; with resume the
 * trainer continues from its latest checkpoint.
 */
public final class RecoverJob {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    public static final String STAGE = "recover";

    /** What the recovery data holds. */
    public enum DataKind {
        /** Alpaca records (instruction, input, output), rendered with the reference template. */
        INSTRUCTIONS,
        /** Plain text, cut into every non-overlapping window of {@code window} tokens of each document. */
        TEXT;

        public static DataKind parse(String s) {
            return parse(s, "recover.data.kind");
        }

        /** The kind {@code s} names; {@code setting} is named in the error. */
        public static DataKind parse(String s, String setting) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(setting + " '" + s + "' is not supported; expected "
                        + "instructions or text");
            }
        }
    }

    /**
     * Distillation from a teacher (the unpruned model): the loss is {@code (1 - lmWeight)·τ²·KL + lmWeight·NLL}.
     * Null in {@link Settings} means the LM loss alone.
     */
    public record Distill(String teacher, double temperature, double lmWeight, boolean precomputedTopK, int topK) {
        public Distill(String teacher, double temperature, double lmWeight) {
            this(teacher, temperature, lmWeight, false, 0);
        }
    }

    /**
     * What recovery needs. {@code cutoff} and {@code trainOnInputs} apply to instruction data, {@code window}
     * and {@code windows} (0 = every window) to plain text. {@code template} renders instruction records
     * (Alpaca's, Compresso's collaborative one, or a file).
     */
    public record Settings(String model, TextSource data, DataKind kind, int cutoff, int window, int windows,
                           boolean trainOnInputs, String dtype, boolean useBest, boolean fullParameters,
                           LoraSettings lora, TrainSettings train, Distill distill, double maxBadFraction,
                           PromptTemplate template) {
        public Settings {
            Objects.requireNonNull(template, "template");
        }

        /** Instruction records rendered with the reference Alpaca template. */
        public Settings(String model, TextSource data, DataKind kind, int cutoff, int window, int windows,
                        boolean trainOnInputs, String dtype, boolean useBest, boolean fullParameters,
                        LoraSettings lora, TrainSettings train, Distill distill, double maxBadFraction) {
            this(model, data, kind, cutoff, window, windows, trainOnInputs, dtype, useBest, fullParameters, lora, train,
                    distill, maxBadFraction, PromptTemplate.ALPACA);
        }

        /** LoRA on instruction data with the LM loss: the reference setting. */
        public Settings(String model, TextSource data, int cutoff, boolean trainOnInputs, String dtype,
                        boolean useBest, LoraSettings lora, TrainSettings train) {
            this(model, data, DataKind.INSTRUCTIONS, cutoff, 0, 0, trainOnInputs, dtype, useBest, false, lora, train,
                    null, InputCheck.DEFAULT_MAX_BAD_FRACTION);
        }
    }

    /** Where the results are; {@code adapter} does not exist after full-parameter recovery. */
    public record Outcome(Path adapter, Path merged, TrainResult result) {}

    private RecoverJob() {}

    public static Path adapterDir(RunDirectory run) {
        return run.resolve(STAGE + "/adapter");
    }

    public static Path mergedDir(RunDirectory run) {
        return run.resolve(STAGE + "/merged");
    }

    /** The training objective; a teacher must exist and share the student's vocabulary. */
    private static Objective objective(Settings s, LlamaConfig student) {
        if (s.distill() == null) {
            return Objective.languageModel();
        }
        Path teacherPath = Fs.path(s.distill().teacher());
        PruneJob.requireModel(teacherPath);
        LlamaConfig teacher = LlamaConfig.read(teacherPath);
        if (teacher.vocabSize() != student.vocabSize()) {
            throw new IllegalArgumentException("recover.distill.teacher " + s.distill().teacher() + " has vocab_size "
                    + teacher.vocabSize() + ", the model to recover " + s.model() + " has " + student.vocabSize()
                    + "; distillation needs the same vocabulary");
        }
        if (s.distill().precomputedTopK()) {
            if (s.distill().topK() > teacher.vocabSize()) {
                throw new IllegalArgumentException("recover.distill.top-k = " + s.distill().topK() + " exceeds the "
                        + "teacher's vocab_size " + teacher.vocabSize());
            }
            return new Objective.TopKDistillation(s.distill().topK(), s.distill().temperature(),
                    s.distill().lmWeight());
        }
        return new Objective.Distillation(new ModelRef(s.distill().teacher(), s.dtype(), false),
                s.distill().temperature(), s.distill().lmWeight());
    }

    /** What recovery holds on an executor: the resident teacher only when it is not precomputed to top-k. */
    static RecoveryPlan memoryPlan(Settings s, LlamaConfig config) {
        LlamaConfig teacher = s.distill() == null || s.distill().precomputedTopK() ? null
                : LlamaConfig.read(Fs.path(s.distill().teacher()));
        return new RecoveryPlan(config, teacher, s.dtype(), s.fullParameters(), s.lora().rank(),
                s.lora().targetModules(), s.lora().dropout(), s.train().microBatch(),
                s.kind() == DataKind.TEXT ? s.window() : s.cutoff());
    }

    /** Runs recovery unless the run already finished it (then returns its outputs, result null). */
    public static Outcome run(SparkSession spark, RunDirectory run, Settings s) {
        Path base = Fs.path(s.model());
        if (run.isDone(STAGE)) {
            LOG.info("recover: already done, adapter in {}", adapterDir(run));
            return new Outcome(adapterDir(run), mergedDir(run), null);
        }
        PruneJob.requireModel(base);
        LlamaConfig config = LlamaConfig.read(base);
        Objective objective = objective(s, config);
        MemoryCheck.require(spark, memoryPlan(s, config), false); // before any executor work (docs/MEMORY.md)
        long started = System.nanoTime();
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("base_model", s.model());
        facts.put("objective", objective.label());
        if (s.distill() != null) {
            facts.put("teacher", s.distill().teacher());
            facts.put("temperature", s.distill().temperature());
            facts.put("lm_weight", s.distill().lmWeight());
        }
        facts.put("data", s.data().path());
        InputCheck.Report input = InputCheck.check(s.data(), "recover.data", s.maxBadFraction());
        PruneJob.logInput("recover.data", input);
        facts.put("data_input", input.toMap());
        facts.put("data_kind", s.kind().name().toLowerCase(Locale.ROOT));
        Dataset<TokenSample> samples;
        if (s.kind() == DataKind.TEXT) {
            samples = CalibrationSet.build(spark, new CalibrationSet.Settings(s.data(), CalibrationSet.Protocol.ALL,
                    s.windows(), s.window(), s.train().seed(), s.train().partitions()), s.model());
            long windows = samples.count();
            LOG.info("recover: text {}: {} windows of {} tokens", s.data().path(), windows, s.window());
            facts.put("window", s.window());
            facts.put("windows", windows);
        } else {
            InstructionSet data = InstructionSet.load(spark, s.data(), s.model(), s.cutoff(), s.trainOnInputs(),
                    s.train().seed(), s.template());
            facts.put("template", s.template().name());
            LOG.info("recover: instruction data {}: {}", s.data().path(), data.describe());
            if (data.usable() == 0) {
                throw new IllegalArgumentException("recover: " + s.data().path() + " has no usable instruction "
                        + "record (" + data.describe() + ")");
            }
            facts.put("records", data.records());
            facts.put("malformed_records", data.malformed());
            facts.put("prompt_longer_than_cutoff", data.promptTooLong());
            samples = data.samples();
        }
        if (s.distill() != null && s.distill().precomputedTopK()) {
            samples = TeacherTopK.attach(spark, samples, new ModelRef(s.distill().teacher(), s.dtype(), false),
                    s.distill().topK(), s.distill().temperature(), s.train().microBatch(), s.train().padId(),
                    run.resolve(STAGE + "/teacher-top-k"));
            facts.put("teacher_source", "top-k");
            facts.put("top_k", s.distill().topK());
        } else if (s.distill() != null) {
            facts.put("teacher_source", "resident");
        }
        LOG.info("recover: objective {}", s.distill() == null ? "lm (next-token NLL)" : "distill from "
                + s.distill().teacher() + " at temperature " + s.distill().temperature() + ", lm-weight "
                + s.distill().lmWeight());
        facts.put("trainable", s.fullParameters() ? "full" : "lora");
        Trainable trainable = s.fullParameters() ? new FullTrainable(config) : new LoraTrainable(config, s.lora());
        ModelRef student = new ModelRef(s.model(), s.dtype(), false);
        Trainer trainer = new Trainer(spark, student, trainable, objective, s.train(), run.resolve(STAGE));
        TrainResult result;
        try {
            result = train(trainer, trainable, samples, s, base);
        } finally {
            // The stage's resident models (the student, and a resident teacher) go when training ends.
            if (objective instanceof Objective.Distillation d) {
                ExecutorModels.releaseEverywhere(spark, student, d.teacher());
            } else {
                ExecutorModels.releaseEverywhere(spark, student);
            }
        }
        return finish(run, s, config, base, result, facts, started);
    }

    private static TrainResult train(Trainer trainer, Trainable trainable, Dataset<TokenSample> samples, Settings s,
                                     Path base) {
        TrainResult result;
        if (s.fullParameters()) {
            try (SafetensorsModel st = SafetensorsModel.open(base)) {
                WeightSource weights = ModelFiles.weights(st);
                Map<String, double[]> initial = new LinkedHashMap<>();
                for (String name : trainable.shapes().keySet()) {
                    initial.put(name, weights.readDouble(name)); // every weight starts from the model to recover
                }
                result = trainer.train(samples, initial);
            }
        } else {
            result = trainer.train(samples);
        }
        return result;
    }

    private static Outcome finish(RunDirectory run, Settings s, LlamaConfig config, Path base, TrainResult result,
                                  Map<String, Object> facts, long started) {
        Map<String, double[]> parameters = s.useBest() && result.bestParameters() != null
                ? result.bestParameters() : result.parameters();
        if (s.fullParameters()) {
            try (SafetensorsModel st = SafetensorsModel.open(base)) {
                ModelFiles.write(mergedDir(run), config, WeightSource.of(config, parameters),
                        st.info(TensorNames.EMBED).dtype(), base, true);
            }
        } else {
            PeftExport.writeAdapter(adapterDir(run), config, s.lora(), parameters, s.model(), DType.F32, true);
            PeftExport.writeMerged(base, mergedDir(run), s.lora(), parameters, true);
        }
        facts.put("training_samples", result.trainingSamples());
        facts.put("validation_samples", result.validationSamples());
        facts.put("steps", result.steps());
        facts.put("tokens", result.tokens());
        facts.put("best_validation_loss", result.bestValidationLoss());
        facts.put("best_step", result.bestStep());
        facts.put("exported", s.useBest() && result.bestParameters() != null ? "best" : "last");
        run.put(STAGE, facts);
        run.markDone(STAGE, (System.nanoTime() - started) / 1e9);
        LOG.info("recover: done in {} steps; adapter {}, merged model {}", result.steps(), adapterDir(run),
                mergedDir(run));
        return new Outcome(adapterDir(run), mergedDir(run), result);
    }
}
