package dev.spruce.pipeline;

import dev.spruce.compresso.CompressoSettings;
import dev.spruce.compresso.CompressoTrainable;
import dev.spruce.compresso.ExpectedSize;
import dev.spruce.compresso.LagrangianTerm;
import dev.spruce.compresso.MaskDecisions;
import dev.spruce.compresso.MaskLayout;
import dev.spruce.data.CalibrationSet;
import dev.spruce.data.InputCheck;
import dev.spruce.data.InstructionSet;
import dev.spruce.data.PromptTemplate;
import dev.spruce.data.TextSource;
import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.lora.PeftExport;
import dev.spruce.memory.MemoryCheck;
import dev.spruce.memory.RecoveryPlan;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsFile;
import dev.spruce.model.safetensors.SafetensorsWriter;
import dev.spruce.model.safetensors.Tensor;
import dev.spruce.prune.ApplyOptions;
import dev.spruce.prune.Folding;
import dev.spruce.prune.HiddenNorm;
import dev.spruce.prune.PlanApplier;
import dev.spruce.prune.PrunePlan;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.SparkSessions;
import dev.spruce.train.TrainResult;
import dev.spruce.train.TrainSettings;
import dev.spruce.train.Trainer;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compresso as a pruning method: LoRA and hard-concrete masks trained together on instruction data (or plain text)
 * under the Lagrangian size constraint (stage {@code compresso}, output {@code compresso/}: checkpoints,
 * metrics.csv with the expected size, target and multipliers, size.png, lambdas.png, kept.png, masks.json, the
 * final parameters and the adapters in PEFT layout, {@code adapter/}); then the deterministic masks as a binary
 * plan with the surviving values folded in, applied to the LoRA-merged model (stage {@code apply}:
 * {@code plan.json}, {@code model/}, a smaller Hugging Face model). With resume, training continues from its
 * latest checkpoint.
 */
public final class CompressoJob {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    public static final String STAGE = "compresso";
    public static final String MASKS_FILE = "masks.json";
    public static final String PARAMETERS_FILE = "parameters.safetensors";
    public static final String ADAPTER_DIR = "adapter";

    /**
     * Everything the job needs. Instruction data ({@code kind} instructions, the reference's) is rendered with
     * {@code template} and cut at {@code cutoff} tokens; plain text is cut into every window of {@code window} tokens.
     */
    public record Settings(String modelPath, String dtype, boolean cpuOnly, String outputDir, boolean overwrite,
                           long maxShardBytes, TextSource data, RecoverJob.DataKind kind, int cutoff, int window,
                           PromptTemplate template, CompressoSettings compresso, TrainSettings train, String master,
                           String appName, boolean ui, Map<String, String> sparkConf, String configJson,
                           double maxBadFraction) {}

    /** The pruned model and its plan. */
    public record Outcome(Path modelDir, PrunePlan plan) {}

    private CompressoJob() {}

    /** Runs (or, with {@code resume}, continues) the job. */
    public static Outcome run(Settings s, boolean resume) {
        Path source = Fs.path(s.modelPath());
        PruneJob.requireModel(source);
        new ModelRef(s.modelPath(), s.dtype(), s.cpuOnly()); // validates model.dtype before any work
        LlamaConfig config = LlamaConfig.read(source);
        CompressoTrainable trainable = new CompressoTrainable(config, s.compresso()); // checks the layer band
        if (s.compresso().foldSurvivors() && s.compresso().hidden() && config.tieWordEmbeddings()) {
            LOG.warn("compresso: {} ties its embeddings, so the hidden survivors' fractional values cannot fold "
                    + "into the weights exactly; they are set to 1 (the deterministic hidden mask is binary)",
                    s.modelPath());
        }
        InputCheck.Report input = InputCheck.check(s.data(), "compresso.data", s.maxBadFraction());
        PruneJob.logInput("compresso.data", input);
        RunDirectory run = RunDirectory.open(Fs.path(s.outputDir()), resume, s.overwrite());
        SparkSession spark = SparkSessions.create(s.appName(), s.master(), s.ui(), s.sparkConf());
        run.put("configuration", PruneJob.parse(s.configJson()));
        run.put("compresso_input", input.toMap());
        run.put("versions", Versions.all(spark));
        Map<String, double[]> parameters = train(spark, run, s, config, trainable);
        return apply(run, s, config, trainable, parameters);
    }

    private static Map<String, double[]> train(SparkSession spark, RunDirectory run, Settings s, LlamaConfig config,
                                               CompressoTrainable trainable) {
        Path dir = run.resolve(STAGE);
        Path parametersFile = new Path(dir, PARAMETERS_FILE);
        if (run.isDone(STAGE)) {
            LOG.info("compresso: training already done, reading {}", parametersFile);
            return readParameters(parametersFile, trainable);
        }
        long started = System.nanoTime();
        MemoryCheck.require(spark, new RecoveryPlan(config, null, s.dtype(), false, s.compresso().lora().rank(),
                s.compresso().lora().targetModules(), s.compresso().lora().dropout(), s.train().microBatch(),
                s.cutoff()), s.cpuOnly());
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("data", s.data().path());
        facts.put("data_kind", s.kind().name().toLowerCase(java.util.Locale.ROOT));
        Dataset<TokenSample> samples;
        if (s.kind() == RecoverJob.DataKind.TEXT) {
            samples = CalibrationSet.build(spark, new CalibrationSet.Settings(s.data(), CalibrationSet.Protocol.ALL, 0,
                    s.window(), s.train().seed(), s.train().partitions()), s.modelPath());
            long windows = samples.count();
            LOG.info("compresso: text {}: {} windows of {} tokens", s.data().path(), windows, s.window());
            facts.put("window", s.window());
            facts.put("windows", windows);
        } else {
            InstructionSet data = InstructionSet.load(spark, s.data(), s.modelPath(), s.cutoff(), false,
                    s.train().seed(), s.template());
            LOG.info("compresso: instruction data {} ({} template): {}", s.data().path(), s.template().name(),
                    data.describe());
            if (data.usable() == 0) {
                throw new IllegalArgumentException("compresso: " + s.data().path() + " has no usable instruction "
                        + "record (" + data.describe() + ")");
            }
            facts.put("template", s.template().name());
            facts.put("records", data.records());
            samples = data.samples();
        }
        ExpectedSize size = new ExpectedSize(trainable.layout());
        LOG.info("compresso: {} mask logits over {} vectors; target sparsity {} of {} parameters (reaching {} "
                        + "after {} pruning steps, {} steps of plain LoRA first)",
                trainable.layout().masks().values().stream().mapToInt(Integer::intValue).sum(),
                trainable.layout().masks().size(), s.compresso().targetSparsity(), size.fullCount(),
                Math.round((1 - s.compresso().targetSparsity()) * size.fullCount()), s.compresso().warmupSteps(),
                s.compresso().prePruningSteps());
        ModelRef base = new ModelRef(s.modelPath(), s.dtype(), s.cpuOnly());
        Trainer trainer = new Trainer(spark, base, trainable, s.train(), dir)
                .driverTerm(new LagrangianTerm(trainable.layout()));
        TrainResult result;
        try {
            result = trainer.train(samples);
        } finally {
            ExecutorModels.releaseEverywhere(spark, base);
        }
        Map<String, double[]> parameters = result.parameters();
        writeParameters(parametersFile, trainable, parameters);
        // The adapters in PEFT layout, for the unpruned base with the masks (the smaller model has them merged).
        PeftExport.writeAdapter(new Path(dir, ADAPTER_DIR), config, s.compresso().lora(), adapters(trainable,
                parameters), s.modelPath(), DType.F32, true);
        MaskDecisions decisions = new MaskDecisions(trainable.layout(), parameters);
        double expected = size.expected(parameters);
        Fs.writeStringAtomically(new Path(dir, MASKS_FILE), decisions.toJson(expected, size.fullCount(),
                result.metrics()));
        facts.put("steps", result.steps());
        facts.put("tokens", result.tokens());
        facts.put("expected_params", expected);
        facts.put("lambda_1", parameters.get(MaskLayout.LAMBDA_1)[0]);
        facts.put("lambda_2", parameters.get(MaskLayout.LAMBDA_2)[0]);
        run.put(STAGE, facts);
        run.markDone(STAGE, (System.nanoTime() - started) / 1e9);
        return parameters;
    }

    private static Outcome apply(RunDirectory run, Settings s, LlamaConfig config, CompressoTrainable trainable,
                                 Map<String, double[]> parameters) {
        Path model = run.resolve("model");
        Path planFile = run.resolve(PlanApplier.PLAN_FILE);
        if (run.isDone("apply")) {
            return new Outcome(model, PrunePlan.read(planFile));
        }
        long started = System.nanoTime();
        MaskDecisions d = new MaskDecisions(trainable.layout(), parameters);
        PrunePlan plan = plan(config, d);
        if (!s.compresso().foldSurvivors()) {
            LOG.info("compresso: survivors = one: every kept unit's mask value is taken as 1, so the smaller model "
                    + "runs the binary masks, not the fractional values it was trained with");
        }
        Map<String, double[]> adapters = adapters(trainable, parameters);
        // LoRA first: the masks multiply activations of the adapted model, so they fold into its merged weights.
        Path merged = run.resolve(STAGE + "/merged");
        PeftExport.writeMerged(Fs.path(s.modelPath()), merged, s.compresso().lora(), adapters, true);
        try {
            PlanApplier.apply(merged, plan, model, new ApplyOptions(true, s.maxShardBytes(), null));
        } finally {
            Fs.deleteQuietly(merged); // the full-size merged copy is only an input of the apply
        }
        plan.write(planFile);
        LOG.info("compresso: {} -> {} parameters ({}% kept), kept hidden {} of {}", plan.paramsBefore(),
                plan.paramsAfter(), String.format("%.2f", 100.0 * plan.paramsAfter() / plan.paramsBefore()),
                d.keptHidden().length, config.hiddenSize());
        run.markDone("apply", (System.nanoTime() - started) / 1e9);
        return new Outcome(model, plan);
    }

    private static Map<String, double[]> adapters(CompressoTrainable trainable, Map<String, double[]> parameters) {
        Map<String, double[]> adapters = new LinkedHashMap<>();
        for (String name : trainable.lora().shapes().keySet()) {
            adapters.put(name, parameters.get(name));
        }
        return adapters;
    }

    /** The binary plan of the deterministic masks, with the survivors' values and the full-width norm folded in. */
    public static PrunePlan plan(LlamaConfig config, MaskDecisions d) {
        int layers = config.numHiddenLayers();
        int[][] groups = new int[layers][];
        int[][] channels = new int[layers][];
        double[][] headValues = new double[layers][];
        double[][] channelValues = new double[layers][];
        for (int l = 0; l < layers; l++) {
            groups[l] = d.keptKvGroups(l);
            channels[l] = d.keptChannels(l);
            double[] g = d.values(MaskLayout.heads(l));
            if (g != null) {
                int rep = config.groupSize(l);
                double[] perHead = new double[g.length * rep];
                for (int h = 0; h < perHead.length; h++) {
                    perHead[h] = g[h / rep];
                }
                headValues[l] = perHead;
            }
            channelValues[l] = d.values(MaskLayout.ffn(l));
        }
        double[] hidden = d.hiddenFolded() ? d.values(MaskLayout.HIDDEN) : null;
        PrunePlan plan = PrunePlan.ofKept("compresso", config, groups, channels,
                d.values(MaskLayout.HIDDEN) == null ? null : d.keptHidden());
        boolean fold = d.layout().settings().foldSurvivors();
        return plan.withFolding(new Folding(HiddenNorm.FULL_WIDTH, hidden, fold ? headValues : null,
                fold ? channelValues : null));
    }

    private static void writeParameters(Path file, CompressoTrainable trainable, Map<String, double[]> values) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        trainable.shapes().forEach((name, shape) -> tensors.put(name, Tensor.of(DType.F64, shape, values.get(name))));
        SafetensorsWriter.write(file, tensors, Map.of("format", "spruce-compresso"));
    }

    private static Map<String, double[]> readParameters(Path file, CompressoTrainable trainable) {
        Map<String, double[]> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : trainable.shapes().keySet()) {
                if (!f.contains(name)) {
                    throw new IllegalArgumentException(file + ": tensor '" + name + "' is missing; the run's settings "
                            + "changed since training (resume with the settings it started with)");
                }
                out.put(name, f.readDouble(name));
            }
        }
        return out;
    }
}
