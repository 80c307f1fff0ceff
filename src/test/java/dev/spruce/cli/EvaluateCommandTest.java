package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.data.TestTokenizers;
import dev.spruce.eval.report.EvalReport;
import dev.spruce.eval.scoring.LoglikelihoodScorer;
import dev.spruce.eval.scoring.PerplexityResult;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.TestSpark;
import dev.spruce.tokenize.HfTokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Encoders;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code spruce evaluate} end to end: two models, perplexity from text and Parquet, a task with a bad record. */
class EvaluateCommandTest {
    private static final LlamaConfig CONFIG = TinyModels.builder(2, 4, 2).vocabSize(259).build();

    @TempDir
    static Path dir;
    static Path modelA;
    static Path modelB;
    static Path heldout;
    static Path task;
    static Path conf;

    @BeforeAll
    static void setUp() throws Exception {
        modelA = writeModel("model-a", 31);
        modelB = writeModel("B", 32);
        List<String> records = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            records.add(i % 4 == 3 ? "" : "Line " + i + " of the held-out text, about pruning and Spark.");
        }
        heldout = Files.write(dir.resolve("heldout.txt"), records, StandardCharsets.UTF_8);
        Path parquet = dir.resolve("heldout.parquet");
        TestSpark.session().createDataset(records, Encoders.STRING()).toDF("text").coalesce(1).write()
                .parquet(parquet.toString());
        task = Files.write(dir.resolve("story.jsonl"), List.of(
                "{\"context\": \"The cat sat on the\", \"choices\": [\"mat\", \"moon\"], \"label\": 0}",
                "{\"context\": \"Water boils at\", \"choices\": [\"100 degrees\", \"ten cats\"], \"label\": 0}",
                "{\"context\": \"broken\", \"choices\": [\"a\", \"b\"], \"label\": ",
                "",
                "{\"context\": \"One, two,\", \"choices\": [\"three\", \"five\", \"seven\"], \"label\": 0}",
                "{\"context\": \"Red, green and\", \"choices\": [\"purple\", \"blue\"], \"label\": 1}"));
        conf = Files.writeString(dir.resolve("evaluate.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  evaluate {",
                "    perplexity = [",
                "      {name = heldout, path = \"" + heldout + "\", seq-len = 32}",
                "      {name = heldout-parquet, path = \"" + parquet + "\", format = parquet, seq-len = 32}",
                "    ]",
                "    tasks = [{name = story, path = \"" + task + "\", format = generic}]",
                "    partitions = 2",
                "    batch-tokens = 200",
                "    generation { prompts = [\"Once upon a time\"], max-new-tokens = 5 }",
                "  }",
                "}"));
    }

    private static Path writeModel(String name, long seed) {
        Path model = dir.resolve(name);
        ModelFiles.write(Fs.path(model.toString()), CONFIG, WeightSource.of(CONFIG, TinyModels.randomWeights(CONFIG, seed)),
                DType.F32, null, false);
        TestTokenizers.bytes(model);
        return model;
    }

    /** Exit code, standard output and standard error as strings (see {@link CliRun}). */
    static String[] run(String... args) {
        CliRun.Result r = CliRun.spruce(args);
        return new String[] {Integer.toString(r.exit()), r.out(), r.err()};
    }

    private static String decimal(double value) {
        return String.format(Locale.ROOT, "%.2f", value);
    }

    @Test
    void evaluatesTwoModelsIntoAReport() throws Exception {
        Path out = dir.resolve("run");
        String[] r = run("evaluate", "-c", conf.toString(), "--set", "output.dir=" + out,
                "--model", "A=" + modelA, "--model", modelB.toString());
        assertEquals("0", r[0], r[2]);
        Path report = out.resolve("report");
        for (String file : List.of(EvalReport.JSON_FILE, EvalReport.MARKDOWN_FILE, EvalReport.PERPLEXITY_CHART,
                EvalReport.ACCURACY_CHART)) {
            assertTrue(Files.size(report.resolve(file)) > 0, file);
        }
        JsonNode json = new ObjectMapper().readTree(report.resolve(EvalReport.JSON_FILE).toFile());
        JsonNode models = json.get("models");
        assertEquals(2, models.size());
        assertEquals("A", models.get(0).get("name").asText());
        assertEquals("B", models.get(1).get("name").asText(), "a bare path is named after its directory");

        String md = Files.readString(report.resolve(EvalReport.MARKDOWN_FILE));
        assertTrue(md.contains("| model | parameters | heldout PPL | heldout-parquet PPL | story acc | average |\n"), md);
        for (JsonNode m : models) {
            assertEquals(CONFIG.parameterCount(), m.get("parameters").asLong());
            double ppl = m.get("perplexities").get("heldout").asDouble();
            assertEquals(ppl, m.get("perplexities").get("heldout-parquet").asDouble(), 1e-9 * ppl,
                    "the same records from text and from Parquet");
            JsonNode story = m.get("tasks").get(0);
            assertEquals("story", story.get("task").asText());
            assertEquals(4, story.get("docs").asInt(), "the malformed record is skipped, the rest evaluated");
            assertEquals(1, m.get("skippedRecords").get("story").asInt());
            assertEquals(1, m.get("generations").size());
            String row = "| " + m.get("name").asText() + " | " + String.format(Locale.ROOT, "%.1fK",
                    CONFIG.parameterCount() / 1e3) + " | " + decimal(ppl) + " | " + decimal(ppl) + " | "
                    + decimal(100 * story.get("acc").asDouble()) + " | "
                    + decimal(100 * m.get("averageAccuracy").asDouble()) + " |\n";
            assertTrue(md.contains(row), "expected row " + row + " in\n" + md);
            assertTrue(r[1].contains(m.get("name").asText() + " "), r[1]);
        }
        assertTrue(md.contains("| model | story |\n|---|---:|\n| A | 1 |\n| B | 1 |\n"), md);
        String taskFile = Fs.path(task.toString()).toString();
        assertTrue(md.contains("- story: `" + taskFile + ":3`: invalid JSON"), md);
        JsonNode skipped = json.get("skippedRecords");
        assertEquals(1, skipped.size());
        assertEquals(3, skipped.get(0).get("lineNumber").asInt());
        assertTrue(r[1].contains("skipped story: " + taskFile + ":3: invalid JSON"), r[1]);
        assertTrue(r[1].contains("report=" + Fs.path(report.toString())), r[1]);

        // Model A's perplexity recomputed in this process, from the tokenizer up.
        try (HfTokenizer tokenizer = HfTokenizer.load(Fs.path(modelA.toString()));
             LlamaModel model = ModelFiles.load(Fs.path(modelA.toString()), DataType.FLOAT32, Device.cpu())) {
            PerplexityResult expected = new LoglikelihoodScorer(model, 64).perplexity(PerplexityProtocol
                    .nonOverlapping(32).windows(Files.readAllLines(heldout, StandardCharsets.UTF_8), tokenizer));
            double ppl = models.get(0).get("perplexities").get("heldout").asDouble();
            assertEquals(expected.perplexity(), ppl, 1e-5 * ppl);
        }

        String[] again = run("evaluate", "-c", conf.toString(), "--set", "output.dir=" + out, "--model", modelB.toString());
        assertEquals("1", again[0], again[1]);
        assertTrue(again[2].contains("already exists"), again[2]);
    }

    /** A NaN weight fails evaluate before any Spark job, naming tensor and index, and no report is written. */
    @Test
    void aModelWithANonFiniteWeightIsRefusedBeforeAnyReport() {
        Map<String, double[]> weights = TinyModels.randomWeights(CONFIG, 33);
        String q = TensorNames.layer(0, TensorNames.Q);
        weights.get(q)[5] = Double.NaN;
        Path model = dir.resolve("nan-model");
        ModelFiles.write(Fs.path(model.toString()), CONFIG, WeightSource.of(CONFIG, weights), DType.F32, null, false);
        TestTokenizers.bytes(model);
        Path out = dir.resolve("nan-run");
        CliRun.Result[] r = new CliRun.Result[1];

        int jobs = TestSpark.jobsStartedDuring(() -> r[0] = CliRun.spruce("evaluate", "-c", conf.toString(), "--set",
                "output.dir=" + out, "--model", model.toString()));

        assertEquals(1, r[0].exit(), r[0].out());
        assertEquals(Fs.path(model.resolve("model.safetensors").toString()) + ": tensor '" + q + "' (F32 [16, 16]) "
                + "has a NaN or infinite value at index 5 [0, 5], expected finite weights", r[0].error());
        assertEquals(0, jobs, "Spark jobs ran before the model was refused");
        assertFalse(Files.exists(out), "output written for a refused model");
    }

    /**
     * Finite weights whose products overflow float32 (an LM head of 3e38) give NaN log-likelihoods; evaluate
     * refuses that result instead of reporting "NaN".
     */
    @Test
    void aNanPerplexityIsRefusedNotReported() {
        Map<String, double[]> weights = TinyModels.randomWeights(CONFIG, 34);
        double[] head = weights.get(TensorNames.LM_HEAD);
        for (int i = 0; i < head.length; i++) {
            head[i] = i % 2 == 0 ? 3e38 : -3e38;
        }
        Path model = dir.resolve("overflow");
        ModelFiles.write(Fs.path(model.toString()), CONFIG, WeightSource.of(CONFIG, weights), DType.F32, null, false);
        TestTokenizers.bytes(model);
        Path out = dir.resolve("overflow-run");

        CliRun.Result r = CliRun.spruce("evaluate", "-c", conf.toString(), "--set", "output.dir=" + out,
                "--model", "overflow=" + model);

        assertEquals(1, r.exit(), r.out());
        assertEquals("evaluate: model overflow (" + model + "): perplexity on heldout is NaN, expected a finite value; "
                + "its forward pass overflows or its weights are not finite (check them with spruce inspect)", r.error());
        assertFalse(Files.exists(out.resolve("report")), "a report was written for a NaN result");
    }

    /** An existing report is replaced only when it is one; a report under a file cannot be written. Both before Spark. */
    @Test
    void theReportsPlaceIsCheckedBeforeAnySparkJob() throws Exception {
        Path notAReport = Files.createDirectories(dir.resolve("photos"));
        Files.writeString(notAReport.resolve("holiday.jpg"), "jpeg");
        Path file = Files.writeString(dir.resolve("report-file"), "x");
        String[][] cases = {
            {"evaluate.report-dir=" + notAReport, "report " + Fs.path(notAReport.toString()) + " is not a spruce report (a "
                    + "directory with report.json), and output.overwrite = true replaces only an earlier report; choose "
                    + "another evaluate.report-dir or output.dir"},
            {"evaluate.report-dir=" + file, "report " + Fs.path(file.toString()) + " is not a spruce report (a directory "
                    + "with report.json), and output.overwrite = true replaces only an earlier report; choose another "
                    + "evaluate.report-dir or output.dir"},
            {"evaluate.report-dir=" + file.resolve("sub/report"), "report directory " + Fs.path(file.resolve("sub")
                    .toString()) + " cannot be created: " + Fs.path(file.toString()) + " is a file, expected a directory"}};
        for (String[] c : cases) {
            CliRun.Result[] r = new CliRun.Result[1];
            int jobs = TestSpark.jobsStartedDuring(() -> r[0] = CliRun.spruce("evaluate", "-c", conf.toString(),
                    "--set", c[0], "--set", "output.overwrite=true", "--model", modelA.toString()));
            assertEquals(1, r[0].exit(), r[0].out());
            assertEquals(c[1], r[0].error());
            assertEquals(0, jobs, c[0]);
        }
        assertEquals("jpeg", Files.readString(notAReport.resolve("holiday.jpg")));
        assertEquals("x", Files.readString(file));
    }

    @Test
    void rejectsUnknownKeysInAPerplexityEntryBeforeAnyWork() {
        Path out = dir.resolve("bad");
        String[] r = run("evaluate", "-c", conf.toString(), "--set", "output.dir=" + out, "--set",
                "evaluate.perplexity=[{name = x, path = \"" + heldout + "\", seqlen = 16}]", "--model", modelA.toString());
        assertEquals("1", r[0], r[1]);
        assertTrue(r[2].contains("spruce.evaluate.perplexity[0]: unknown key 'seqlen'"), r[2]);
        assertFalse(Files.exists(out));
    }
}
