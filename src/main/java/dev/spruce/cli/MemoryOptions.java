package dev.spruce.cli;

import dev.spruce.eval.Evaluation;
import dev.spruce.memory.ExecutorShape;
import dev.spruce.memory.ImportancePlan;
import dev.spruce.memory.MemoryCheck;
import dev.spruce.memory.RecoveryPlan;
import dev.spruce.memory.StagePlan;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.LayerRange;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.SparkConf;
import picocli.CommandLine.Option;

/**
 * The memory plan of {@code spruce plan --dry-run}: a job file's settings and a cluster shape given as options,
 * estimated for every stage without Spark and without weights (config.json only).
 */
final class MemoryOptions {
    @Option(names = {"-c", "--config"}, description = "Job configuration (HOCON) whose settings the memory plan uses.")
    String config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one option of the job configuration.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--executor-memory", description = "spark.executor.memory (e.g. 64g; the JVM heap).")
    String executorMemory;

    @Option(names = "--executor-memory-overhead", description = "spark.executor.memoryOverhead (native memory).")
    String memoryOverhead;

    @Option(names = "--executor-cores", description = "spark.executor.cores.")
    Integer executorCores;

    @Option(names = "--task-cpus", description = "spark.task.cpus.")
    Integer taskCpus;

    @Option(names = "--gpu-memory", description = "Device memory per GPU (80g, 81559m, or a name such as h100-80gb, "
            + "h200): GPU executors with one GPU and one task per GPU unless the job file says otherwise.")
    String gpuMemory;

    @Option(names = "--dtype", description = "Compute dtype of every stage: float64, float32, float16, bfloat16, auto.")
    String dtype;

    @Option(names = "--micro-batch", description = "calibration.micro-batch and recover.train.micro-batch.")
    Integer microBatch;

    @Option(names = "--criterion", description = "importance.criterion.")
    String criterion;

    @Option(names = "--margin", description = "memory.margin (safety factor, default from reference.conf).")
    Double margin;

    /** Whether any memory option was given (a plain {@code --dry-run} prints only the counts). */
    boolean requested() {
        return config != null || !overrides.isEmpty() || executorMemory != null || memoryOverhead != null
                || executorCores != null || taskCpus != null || gpuMemory != null || dtype != null
                || microBatch != null || criterion != null || margin != null;
    }

    JobConfig load() {
        List<String> all = new ArrayList<>(overrides);
        if (dtype != null) {
            all.add("model.dtype=" + dtype);
            all.add("recover.dtype=" + dtype);
            all.add("evaluate.dtype=" + dtype);
        }
        if (microBatch != null) {
            all.add("calibration.micro-batch=" + microBatch);
            all.add("recover.train.micro-batch=" + microBatch);
        }
        if (criterion != null) {
            all.add("importance.criterion=" + criterion);
        }
        if (margin != null) {
            all.add("memory.margin=" + margin);
        }
        if (gpuMemory != null) {
            all.add("memory.gpu-memory=" + gpuMemory);
        }
        return JobConfig.load(config, all);
    }

    /**
     * The executors: the job file's spark.conf, overridden by the options; a cluster is sized as YARN and Kubernetes
     * do (memory + overhead); no option and no executor memory = this JVM in local mode.
     */
    ExecutorShape shape(JobConfig c) {
        SparkConf conf = new SparkConf(false);
        c.map("spark.conf").forEach(conf::set);
        String master = c.string("spark.master");
        boolean cluster = executorMemory != null || memoryOverhead != null || executorCores != null
                || gpuMemory != null || conf.contains("spark.executor.memory");
        conf.set("spark.master", cluster ? "yarn" : master.isBlank() ? "local[*]" : master);
        set(conf, "spark.executor.memory", executorMemory);
        set(conf, "spark.executor.memoryOverhead", memoryOverhead);
        set(conf, "spark.executor.cores", executorCores == null ? null : executorCores.toString());
        set(conf, "spark.task.cpus", taskCpus == null ? null : taskCpus.toString());
        if (gpuMemory != null) {
            conf.setIfMissing("spark.executor.resource.gpu.amount", "1");
            conf.setIfMissing("spark.task.resource.gpu.amount", "1");
        }
        return ExecutorShape.of(conf, c.flag("model.cpu-only"), c.string("memory.gpu-memory"));
    }

    private static void set(SparkConf conf, String key, String value) {
        if (value != null) {
            conf.set(key, value);
        }
    }

    /** Prints the plan of importance (model), recover (pruned, with the teacher) and evaluate (model). */
    void print(PrintWriter w, JobConfig c, LlamaConfig model, LlamaConfig pruned, LayerRange attention, LayerRange mlp) {
        ExecutorShape shape = shape(c);
        double m = c.number("memory.margin");
        w.printf(Locale.ROOT, "memory plan per executor (%s; margin %.2f)%n", shape.source(), m);
        List<StagePlan> stages = new ArrayList<>();
        stages.add(new ImportancePlan(model, c.string("model.dtype"), c.string("importance.criterion"),
                c.integer("calibration.micro-batch"), c.integer("calibration.length"),
                attention, mlp, c.flag("prune.channel-wise"),
                c.integer("importance.block-elements")));
        boolean distill = c.string("recover.objective").trim().equalsIgnoreCase("distill");
        boolean resident = c.string("recover.distill.teacher-source").trim().equalsIgnoreCase("resident");
        boolean text = c.string("recover.data.kind").trim().equalsIgnoreCase("text");
        stages.add(new RecoveryPlan(pruned, distill && resident ? model : null, c.string("recover.dtype"),
                c.string("recover.trainable").trim().equalsIgnoreCase("full"), c.integer("recover.lora.rank"),
                c.strings("recover.lora.target-modules"), c.number("recover.lora.dropout"),
                c.integer("recover.train.micro-batch"), text ? c.integer("recover.data.window") : c.integer("recover.cutoff")));
        stages.add(Evaluation.memoryPlan(EvaluateConfig.read(c.raw()), model));
        List<String> summary = new ArrayList<>();
        for (StagePlan stage : stages) {
            MemoryCheck.Verdict v = MemoryCheck.check(stage, shape, m);
            MemoryCheck.print(w, v);
            summary.add(String.format(Locale.ROOT, "%-10s %s", stage.stage(), v.fits() ? "fits" : "DOES NOT FIT"));
        }
        w.println("memory: " + String.join("; ", summary).replaceAll("\\s+", " "));
    }
}
