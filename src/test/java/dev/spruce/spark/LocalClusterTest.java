package dev.spruce.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.compresso.CompressoSettings;
import dev.spruce.compresso.CompressoTrainable;
import dev.spruce.compresso.LagrangianTerm;
import dev.spruce.data.TokenSample;
import dev.spruce.importance.Criterion;
import dev.spruce.importance.DistributedImportance;
import dev.spruce.importance.ImportanceEstimator;
import dev.spruce.importance.ImportanceScores;
import dev.spruce.importance.ScoringSettings;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.lora.LoraSettings;
import dev.spruce.scope.LayerRange;
import dev.spruce.train.TrainSettings;
import dev.spruce.train.Trainer;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real executor JVMs (local-cluster[2,1,1024]) with a GPU discovery script that gives each worker its own
 * address: each task sees its executor's address, each executor loads the model once across two jobs, and
 * the result equals the single-node computation.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalClusterTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);

    @TempDir
    static Path dir;
    static SparkSession spark;

    @BeforeAll
    static void startCluster() throws Exception {
        TestSpark.stop();
        Path sparkHome = Paths.get(System.getenv("SPARK_HOME"));
        Path jars = Files.createDirectories(sparkHome.resolve("jars"));
        List<String> appDirs = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Paths.get(entry);
            if (entry.endsWith(".jar")) {
                Path link = jars.resolve(p.getFileName());
                if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.createSymbolicLink(link, p.toAbsolutePath());
                }
            } else if (Files.isDirectory(p)) {
                appDirs.add(p.toAbsolutePath().toString());
            }
        }
        Path counter = dir.resolve("gpu-counter");
        Path script = dir.resolve("discover-gpus.sh");
        Files.writeString(script, "#!/usr/bin/env bash\n"
                + "exec 9>>'" + counter + ".lock'; flock 9\n"
                + "n=$(cat '" + counter + "' 2>/dev/null || echo 0); echo $((n+1)) > '" + counter + "'\n"
                + "echo \"{\\\"name\\\": \\\"gpu\\\", \\\"addresses\\\": [\\\"$n\\\"]}\"\n");
        script.toFile().setExecutable(true);
        String jvmFlags = ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add-opens") || a.startsWith("-D"))
                .collect(Collectors.joining(" "));
        spark = SparkSession.builder().appName("spruce-local-cluster-test").master("local-cluster[2,1,1024]")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.worker.resource.gpu.amount", "1")
                .config("spark.worker.resource.gpu.discoveryScript", script.toString())
                .config("spark.executor.resource.gpu.amount", "1")
                .config("spark.task.resource.gpu.amount", "1")
                .config("spark.executor.extraClassPath", String.join(File.pathSeparator, appDirs))
                .config("spark.executor.extraJavaOptions", jvmFlags)
                .getOrCreate();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        long deadline = System.currentTimeMillis() + 120_000;
        while (sc.sc().getExecutorMemoryStatus().size() < 3 && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
        }
        assertEquals(3, sc.sc().getExecutorMemoryStatus().size(), "two executors (plus the driver) did not start");
    }

    @AfterAll
    static void stopCluster() {
        if (spark != null) {
            spark.stop();
        }
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
    }

    /** Importance over four shards, with the failure injection {@code prefix} armed on {@code marker} when set. */
    private static DistributedImportance.Result importance(String model, ModelRef ref, List<TokenSample> list,
                                                           ScoringSettings settings, String prefix, Path marker) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        if (prefix != null) {
            sc.setLocalProperty(prefix + "importance", marker.toString());
        }
        try (SafetensorsModel st = SafetensorsModel.open(Fs.path(model))) {
            return DistributedImportance.run(spark, ref, CONFIG, ModelFiles.weights(st),
                    spark.createDataset(sc.parallelize(list, 4).rdd(), Encoders.bean(TokenSample.class)),
                    settings, 2, 0, 64);
        } finally {
            if (prefix != null) {
                sc.setLocalProperty(prefix + "importance", null);
            }
        }
    }

    private static void assertBitIdentical(ImportanceScores expected, ImportanceScores actual, String what) {
        for (int l = 0; l < expected.attention().length; l++) {
            assertArrayEquals(expected.attention()[l], actual.attention()[l], 0.0, "attention scores of " + what);
            assertArrayEquals(expected.mlp()[l], actual.mlp()[l], 0.0, "MLP scores of " + what);
        }
    }

    @Test
    @Order(1)
    void executorsGetTheirOwnGpuLoadTheModelOnceAndMatchTheSingleNode() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 21);
        String model = dir.resolve("model").toString();
        ModelFiles.write(Fs.path(model), CONFIG, WeightSource.of(CONFIG, w), DType.F64, null, false);
        List<TokenSample> list = new ArrayList<>();
        int[][] ids = TinyModels.randomIds(CONFIG, 6, 7, 2);
        for (int i = 0; i < ids.length; i++) {
            list.add(TokenSample.of(i, ids[i]));
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        ScoringSettings settings = ScoringSettings.blockWise(Criterion.PARAM_FIRST, LayerRange.all(2), LayerRange.all(2));
        ModelRef ref = new ModelRef(model, "float64", true);
        List<String> devices = new ArrayList<>();
        List<DistributedImportance.Result> results = new ArrayList<>();
        DistributedImportance.Result result = null;
        for (int job = 0; job < 3; job++) {
            // Four shards over two executors, so the order the shuffle delivers partial sums in varies; the third
            // job's first task fails once and is retried.
            result = importance(model, ref, list, settings,
                    job == 2 ? FailureInjection.PROPERTY_PREFIX : null, dir.resolve("fail-once-marker"));
            results.add(result);
            if (job < 2) {
                devices.addAll(result.taskDevices());
            }
        }
        assertTrue(Files.exists(dir.resolve("fail-once-marker")), "the injected failure did not happen");
        // Sums are added in shard order: repeated runs and a retried run give bit-identical scores.
        for (int job = 1; job < 3; job++) {
            assertBitIdentical(results.get(0).scores(), results.get(job).scores(), "run " + job);
        }
        // Each executor saw exactly one GPU address, and the two executors saw different ones.
        Pattern p = Pattern.compile("executor (\\S+) partition \\d+ on cpu\\(\\) \\(assigned gpu (\\d+)\\)");
        Map<String, String> gpuOfExecutor = new HashMap<>();
        for (String d : devices) {
            Matcher m = p.matcher(d);
            assertTrue(m.matches(), d);
            String previous = gpuOfExecutor.putIfAbsent(m.group(1), m.group(2));
            assertTrue(previous == null || previous.equals(m.group(2)), "executor saw two addresses: " + devices);
        }
        assertEquals(2, gpuOfExecutor.size(), "tasks did not run on both executors: " + devices);
        assertEquals(2, gpuOfExecutor.values().stream().distinct().count(), "executors share an address: " + devices);
        // Each executor loaded the model once per job, whatever the number of its tasks (two shards each), and
        // released it when the job ended: three loads for the three jobs, nothing resident now.
        List<String> loads = sc.parallelize(List.of(0, 1, 2, 3, 4, 5, 6, 7), 8)
                .map(x -> SparkEnv.get().executorId() + "=" + ExecutorModels.loads(ref) + " resident "
                        + ExecutorModels.resident()).distinct().collect();
        List<String> expectedLoads = gpuOfExecutor.keySet().stream().map(e -> e + "=3 resident []").sorted().toList();
        assertEquals(expectedLoads, loads.stream().sorted().toList(), "model loads per executor");
        // An executor killed mid-importance: Spark loses it, its model and its shuffle output, recomputes on the
        // executors it has, and the sums, added in shard order, come out bit-identical again.
        DistributedImportance.Result afterKill = importance(model, ref, list, settings, FailureInjection.KILL_PREFIX,
                dir.resolve("kill-marker"));
        assertTrue(Files.exists(dir.resolve("kill-marker")), "no executor was killed");
        assertBitIdentical(results.get(0).scores(), afterKill.scores(), "the run after an executor was killed");
        // The result equals the single-node computation.
        ImportanceScores single;
        try (LlamaModel m = ModelFiles.load(Fs.path(model), DataType.FLOAT64, Device.cpu())) {
            List<int[]> samples = new ArrayList<>(List.of(ids));
            single = ImportanceEstimator.estimate(m, samples, settings, 3);
        }
        for (int l = 0; l < 2; l++) {
            for (int g = 0; g < single.attention()[l].length; g++) {
                assertEquals(single.attention()[l][g], result.scores().attention()[l][g],
                        1e-6 * Math.abs(single.attention()[l][g]));
            }
            for (int j = 0; j < single.mlp()[l].length; j++) {
                assertEquals(single.mlp()[l][j], result.scores().mlp()[l][j], 1e-6 * Math.abs(single.mlp()[l][j]));
            }
        }
    }

    /**
     * Compresso's training (masks, multipliers and LoRA) on two executor JVMs, once undisturbed and once with an
     * executor killed in the middle of a step: Spark reruns the lost task elsewhere and the run ends with the same
     * parameters, bit for bit. Runs after the load-count test, since the kill replaces an executor.
     */
    @Test
    @Order(2)
    void compressoTrainingIsUnchangedByAnExecutorKilledMidStep() {
        String model = dir.resolve("compresso-model").toString();
        ModelFiles.write(Fs.path(model), CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG, 23)),
                DType.F64, null, false);
        ModelRef ref = new ModelRef(model, "float64", true);
        List<TokenSample> samples = new ArrayList<>();
        int[][] ids = TinyModels.randomIds(CONFIG, 12, 6, 9);
        for (int i = 0; i < ids.length; i++) {
            samples.add(new TokenSample(100 + i, ids[i], 1));
        }
        CompressoSettings settings = new CompressoSettings(true, true, true, LayerRange.all(2), 2.0 / 3.0, 10, 0.01,
                0.3, 2, CompressoSettings.TargetSchedule.LINEAR, 1, 0.1, true,
                new LoraSettings(2, 2, 0, List.of("q_proj", "v_proj")));
        TrainSettings train = TrainSettings.builder().globalBatch(6).microBatch(3).maxSteps(4).learningRate(0.01)
                .warmupSteps(0).validationSize(0).saveEvery(100).evalEvery(100).seed(3).partitions(2).build();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Map<String, double[]> undisturbed = null;
        for (String run : List.of("undisturbed", "killed")) {
            if (run.equals("killed")) {
                sc.setLocalProperty(FailureInjection.KILL_PREFIX + "train", dir.resolve("train-kill-marker").toString());
            }
            try {
                CompressoTrainable trainable = new CompressoTrainable(CONFIG, settings);
                Map<String, double[]> p = new Trainer(spark, ref, trainable, train,
                        Fs.path(dir.resolve("compresso-" + run).toString()))
                        .driverTerm(new LagrangianTerm(trainable.layout()))
                        .train(spark.createDataset(sc.parallelize(samples, 2).rdd(), Encoders.bean(TokenSample.class)))
                        .parameters();
                if (undisturbed == null) {
                    undisturbed = p;
                } else {
                    for (Map.Entry<String, double[]> e : undisturbed.entrySet()) {
                        assertArrayEquals(e.getValue(), p.get(e.getKey()), 0.0, e.getKey() + " after the kill");
                    }
                }
            } finally {
                sc.setLocalProperty(FailureInjection.KILL_PREFIX + "train", null);
            }
        }
        assertTrue(Files.exists(dir.resolve("train-kill-marker")), "no executor was killed");
    }
}
