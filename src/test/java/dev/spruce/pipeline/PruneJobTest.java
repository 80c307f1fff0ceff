package dev.spruce.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.cli.CliRun;
import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.prune.PlanSettings;
import dev.spruce.prune.Planner;
import dev.spruce.prune.PrunePlan;
import dev.spruce.scope.LayerRange;
import dev.spruce.spark.TestSpark;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code spruce prune} end to end on a small model written by the test. */
class PruneJobTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path conf;
    static Path calibration;

    @BeforeAll
    static void setUp() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(4, 4, 2).vocabSize(259).build();
        model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            docs.add("Document number " + i + " talks about pruning large language models on Spark, again and again.");
        }
        calibration = Files.write(dir.resolve("calibration.txt"), docs, StandardCharsets.UTF_8);
        conf = Files.writeString(dir.resolve("job.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  model.path = \"" + model + "\"",
                "  calibration { path = \"" + calibration + "\", samples = 6, length = 32, partitions = 3, micro-batch = 2 }",
                "  prune { ratio = 0.5, attention-layers = \"1:3\", mlp-layers = \"1:4\" }",
                "}"));
    }

    @Test
    void prunesReloadsAndResumesWithoutRedoingWork() throws Exception {
        Path out = dir.resolve("run");
        CliRun.Result r = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out);
        assertEquals(0, r.exit(), r.err());
        PrunePlan plan = PrunePlan.read(Fs.path(out.resolve("plan.json").toString()));
        assertTrue(r.out().contains("params_after=" + plan.paramsAfter()), r.out());
        assertTrue(plan.paramsAfter() < plan.paramsBefore());
        LlamaConfig pruned = LlamaConfig.read(Fs.path(out.resolve("model").toString()));
        assertEquals(plan.paramsAfter(), pruned.parameterCount());
        assertEquals(new int[] {4, 2, 2, 4}[1], pruned.layerHeads(1));
        try (LlamaModel m = ModelFiles.load(Fs.path(out.resolve("model").toString()), DataType.FLOAT32, Device.cpu())) {
            assertEquals(plan.paramsAfter(), m.parameterCount());
        }
        for (String f : new String[] {"scores.json", "run.json", "model/tokenizer.json", "model/plan.json",
                "_stages/importance.done", "_stages/plan.done", "_stages/apply.done"}) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        List<org.apache.spark.sql.Row> rows = TestSpark.session().read().parquet(out.resolve("scores.parquet").toString())
                .collectAsList();
        assertEquals(2 * 2 + 3 * 24, rows.size(), "kv groups of layers 1-2 and MLP channels of layers 1-3");
        JsonNode runJson = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        assertEquals(6, runJson.path("calibration").path("fingerprint").path("samples").asInt());
        assertEquals(6 * 32, runJson.path("calibration").path("fingerprint").path("tokens").asInt());
        assertTrue(runJson.path("versions").path("spark").asText().startsWith("4."));
        assertEquals(0.5, runJson.path("configuration").path("prune").path("ratio").asDouble());

        long modelTime = Files.getLastModifiedTime(out.resolve("model/config.json")).toMillis();
        long scoresTime = Files.getLastModifiedTime(out.resolve("scores.json")).toMillis();
        AtomicInteger jobs = new AtomicInteger();
        SparkListener counter = new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart jobStart) {
                jobs.incrementAndGet();
            }
        };
        TestSpark.session().sparkContext().addSparkListener(counter);
        try {
            CliRun.Result again = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out, "--resume");
            assertEquals(0, again.exit(), again.err());
            assertTrue(again.out().contains("params_after=" + plan.paramsAfter()), again.out());
        } finally {
            TestSpark.session().sparkContext().removeSparkListener(counter);
        }
        assertEquals(0, jobs.get(), "a resumed, finished run started Spark jobs");
        assertEquals(modelTime, Files.getLastModifiedTime(out.resolve("model/config.json")).toMillis());
        assertEquals(scoresTime, Files.getLastModifiedTime(out.resolve("scores.json")).toMillis());

        CliRun.Result refused = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out);
        assertNotEquals(0, refused.exit());
        assertTrue(refused.err().contains("already exists"), refused.err());
    }

    @Test
    void iterativeStepsPruneTheirPredecessorAndPublishTheLastModel() throws Exception {
        Path out = dir.resolve("iterative");
        CliRun.Result r = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out,
                "--set", "prune.iterative-steps=2");
        assertEquals(0, r.exit(), r.err());
        for (String f : new String[] {"step-1/scores.json", "step-1/plan.json", "step-1/model/config.json",
                "step-2/scores.json", "step-2/plan.json", "plan.json", "model/model.safetensors",
                "_stages/importance-1.done", "_stages/apply-2.done", "_stages/publish.done"}) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        PrunePlan first = PrunePlan.read(Fs.path(out.resolve("step-1/plan.json").toString()));
        PrunePlan last = PrunePlan.read(Fs.path(out.resolve("plan.json").toString()));
        assertEquals(first.paramsAfter(), last.paramsBefore(), "step 2 prunes step 1's model");
        assertTrue(last.paramsAfter() < first.paramsAfter());
        assertEquals(last.paramsAfter(), LlamaConfig.read(Fs.path(out.resolve("model").toString())).parameterCount());
        // Ratio 0.5 in two steps reaches the same widths as ratio 0.5 at once (the schedule is r*k/K).
        LlamaConfig source = LlamaConfig.read(Fs.path(model.toString()));
        long oneShot = Planner.counts(source, PlanSettings.builder().ratio(0.5).attentionLayers(new LayerRange(1, 3))
                .mlpLayers(new LayerRange(1, 4)).build()).parameterCount();
        assertEquals(oneShot, last.paramsAfter());
        assertTrue(r.out().contains("params_after=" + last.paramsAfter()), r.out());
        // Each step's importance loaded its own model on the executors and released it when the step ended.
        java.util.Set<String> loadedHere = new java.util.TreeSet<>();
        for (String path : dev.spruce.spark.ExecutorModels.loaded()) {
            if (path.endsWith(model.toString()) || path.endsWith(out.resolve("step-1/model").toString())) {
                loadedHere.add(path);
            }
        }
        assertEquals(2, loadedHere.size(), "the source model and step 1's model were scored: " + loadedHere);
        for (String path : loadedHere) {
            assertFalse(dev.spruce.spark.ExecutorModels.resident().contains(path), path + " is still resident");
        }
    }

    private static void assertFailsWithoutOutput(String expected, String... overrides) {
        Path out = dir.resolve("bad-" + Math.abs(expected.hashCode()));
        List<String> args = new ArrayList<>(List.of("prune", "-c", conf.toString(), "--set", "output.dir=" + out));
        for (String o : overrides) {
            args.add("--set");
            args.add(o);
        }
        CliRun.Result r = CliRun.spruce(args.toArray(new String[0]));
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in: " + r.err());
        assertFalse(Files.exists(out), "partial output left at " + out);
    }

    /** Runs prune on {@code source}; asserts the one-line error, no Spark job and no output. */
    private static void assertRefusedBeforeAnyJob(Path source, String expected) {
        Path out = dir.resolve("refused-" + source.getFileName());
        assertRefusedBeforeAnyJob(expected, "--set", "output.dir=" + out, "--set", "model.path=" + source);
        assertFalse(Files.exists(out), "output left at " + out);
    }

    /** Runs prune with {@code args} after the job file; asserts exit 1, the one-line error and that no Spark job ran. */
    private static void assertRefusedBeforeAnyJob(String expected, String... args) {
        List<String> command = new ArrayList<>(List.of("prune", "-c", conf.toString()));
        command.addAll(List.of(args));
        CliRun.Result[] r = new CliRun.Result[1];
        int jobs = TestSpark.jobsStartedDuring(() -> r[0] = CliRun.spruce(command.toArray(new String[0])));
        assertEquals(1, r[0].exit(), r[0].out());
        assertEquals(expected, r[0].error());
        assertEquals(0, jobs, "a Spark job ran before the command was refused");
    }

    @Test
    void weightsThatDisagreeWithTheirConfigAreRefusedBeforeAnyJob() throws Exception {
        LlamaConfig c = TinyModels.builder(4, 4, 2).vocabSize(259).build();
        Map<String, double[]> weights = TinyModels.randomWeights(c, 5);
        String gate = TensorNames.layer(2, TensorNames.GATE);
        weights.get(gate)[3] = Double.POSITIVE_INFINITY;
        Path infinite = dir.resolve("infinite");
        ModelFiles.write(Fs.path(infinite.toString()), c, WeightSource.of(c, weights), DType.F32, null, false);
        TestTokenizers.bytes(infinite);
        assertRefusedBeforeAnyJob(infinite, Fs.path(infinite.resolve("model.safetensors").toString()) + ": tensor '"
                + gate + "' (F32 [24, 16]) has a NaN or infinite value at index 3 [0, 3], expected finite weights");

        Path narrow = dir.resolve("narrow");
        ModelFiles.write(Fs.path(narrow.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F32,
                null, false);
        TestTokenizers.bytes(narrow);
        c.toBuilder().layerWidths(null, null, new int[] {24, 24, 0, 24}).build().write(Fs.path(narrow.toString()));
        assertRefusedBeforeAnyJob(narrow, Fs.path(narrow.resolve("model.safetensors").toString()) + ": tensor '"
                + TensorNames.layer(2, TensorNames.DOWN) + "' (shape [16, 24]) is in the weights, but config.json "
                + "spruce_intermediate_size_per_layer[2] = 0 calls for no such tensor");
    }

    /**
     * A run killed while apply wrote the model: no model, no apply marker, a half-written staging directory and a
     * marker file that was never renamed. --resume removes both leftovers, keeps other hidden entries and finishes.
     */
    @Test
    void aResumedRunRemovesWhatKilledWritesLeftAndCompletes() throws Exception {
        Path out = dir.resolve("killed");
        CliRun.Result first = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out);
        assertEquals(0, first.exit(), first.err());
        Fs.deleteQuietly(Fs.path(out.resolve("model").toString()));
        Files.delete(out.resolve("_stages/apply.done"));
        Path staging = Files.createDirectories(out.resolve(".model.staging-" + UUID.randomUUID()));
        Files.write(staging.resolve("model.safetensors"), new byte[100]);
        Path temporary = Files.writeString(out.resolve("_stages/.apply.done.tmp-" + UUID.randomUUID()), "{\"sta");
        Path unrelated = Files.createDirectories(out.resolve(".notes"));

        List<String> log = new CopyOnWriteArrayList<>();
        Logger spruceLog = (Logger) LogManager.getLogger("spruce");
        AbstractAppender capture = new AbstractAppender("capture", null, null, true, Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                log.add(event.getMessage().getFormattedMessage());
            }
        };
        capture.start();
        spruceLog.addAppender(capture);
        CliRun.Result resumed;
        try {
            resumed = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out, "--resume");
        } finally {
            spruceLog.removeAppender(capture);
        }

        assertEquals(0, resumed.exit(), resumed.err());
        assertFalse(Files.exists(staging), "stale staging directory left");
        assertFalse(Files.exists(temporary), "stale temporary file left");
        assertTrue(Files.exists(unrelated), "a hidden directory that no spruce write made was removed");
        for (Path removed : List.of(staging, temporary)) {
            String line = "resume: removed " + Fs.path(removed.toString()) + ", left by a write that did not finish";
            assertTrue(log.contains(line), "expected '" + line + "' in the log: " + log);
        }
        assertTrue(Files.exists(out.resolve("_stages/apply.done")));
        PrunePlan plan = PrunePlan.read(Fs.path(out.resolve("plan.json").toString()));
        assertEquals(plan.paramsAfter(), LlamaConfig.read(Fs.path(out.resolve("model").toString())).parameterCount());
        try (Stream<Path> entries = Files.walk(out)) {
            assertEquals(List.of(), entries.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(".staging-") || n.contains(".tmp-")).toList());
        }
    }

    /**
     * Outputs that cannot take a run fail before Spark runs anything, and are left as they were. Tests run as root,
     * which ignores permission bits, so a read-only output is stood for by a path under a regular file: nothing can
     * be created there by anyone.
     */
    @Test
    void outputsThatCannotTakeARunFailBeforeAnySparkJob() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file.txt"), "not a run");
        assertRefusedBeforeAnyJob("output " + Fs.path(file.resolve("sub").toString()) + " cannot be created: "
                + Fs.path(file.toString()) + " is a file, expected a directory", "--set", "output.dir=" + file.resolve("sub"));
        String isAFile = "output " + Fs.path(file.toString()) + " is a file, expected a spruce run directory (or a path "
                + "that does not exist yet)";
        assertRefusedBeforeAnyJob(isAFile, "--set", "output.dir=" + file, "--resume");
        assertRefusedBeforeAnyJob(isAFile, "--set", "output.dir=" + file, "--set", "output.overwrite=true");
        assertEquals("not a run", Files.readString(file));

        Path notARun = Files.createDirectories(dir.resolve("my-data"));
        Files.writeString(notARun.resolve("thesis.tex"), "years of work");
        assertRefusedBeforeAnyJob("output " + Fs.path(notARun.toString()) + " is not a spruce run directory (it has "
                + "neither run.json nor _stages/), and output.overwrite = true replaces only an earlier run; choose "
                + "another output.dir or remove it yourself", "--set", "output.dir=" + notARun, "--set",
                "output.overwrite=true");
        assertEquals("years of work", Files.readString(notARun.resolve("thesis.tex")));
    }

    /** output.overwrite replaces a directory with a run's marker (here a run killed in its first stage). */
    @Test
    void overwriteReplacesAnEarlierRun() throws Exception {
        Path out = dir.resolve("replaced");
        Files.createDirectories(out.resolve("_stages"));
        Files.writeString(out.resolve("scores.json"), "{\"partial");
        CliRun.Result r = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out, "--set",
                "output.overwrite=true");
        assertEquals(0, r.exit(), r.err());
        assertTrue(Files.exists(out.resolve("_stages/apply.done")));
        PrunePlan.read(Fs.path(out.resolve("plan.json").toString()));
        assertTrue(Files.readString(out.resolve("scores.json")).startsWith("{\n"), "the old scores were not replaced");
    }

    @Test
    void badInputIsAClearErrorWithNoPartialOutput() throws Exception {
        Path noWeights = Files.createDirectories(dir.resolve("no-weights"));
        Files.copy(model.resolve("config.json"), noWeights.resolve("config.json"));
        assertFailsWithoutOutput("no weights (expected model.safetensors", "model.path=" + noWeights);
        assertFailsWithoutOutput("config.json not found", "model.path=" + dir.resolve("nowhere"));
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        assertFailsWithoutOutput("has no documents", "calibration.path=" + empty);
        // 2 tasks x 4000² attention scores would not fit this machine: the memory check (docs/MEMORY.md) comes first.
        assertFailsWithoutOutput("have at least 4000 tokens", "calibration.length=4000", "memory.check=false");
        Path jsonl = Files.writeString(dir.resolve("docs.jsonl"), "{\"body\": \"some text that is long enough\"}\n");
        assertFailsWithoutOutput("field 'text' is not a column", "calibration.path=" + jsonl, "calibration.format=jsonl");
        assertFailsWithoutOutput("unknown key 'spruce.prune.ration'", "prune.ration=0.3");
        assertFailsWithoutOutput("ratio must be in [0, 1)", "prune.ratio=1.5");
    }
}
