package dev.spruce.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.cli.CliRun;
import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Calibration data is read once on the driver before any Spark job: bad files fail there, tolerable ones count. */
class BadCalibrationTest {
    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void setUp() {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(4, 4, 2).vocabSize(259).build();
        model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
    }

    private interface Call {
        CliRun.Result call() throws Exception;
    }

    private static CliRun.Result run(Call call) {
        try {
            return call.call();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private CliRun.Result prune(Path calibration, String format, Path out) throws Exception {
        Path conf = Files.writeString(dir.resolve(out.getFileName() + ".conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  model.path = \"" + model + "\"",
                "  output.dir = \"" + out + "\"",
                "  calibration { path = \"" + calibration + "\", format = " + format + ", samples = 4, length = 16 }",
                "  prune { ratio = 0.5, attention-layers = \"1:3\", mlp-layers = \"1:4\" }",
                "}"));
        return CliRun.spruce("prune", "-c", conf.toString());
    }

    @Test
    void aMostlyMalformedJsonLinesFileFailsBeforeAnySparkJobAndWritesNothing() throws Exception {
        StringBuilder jsonl = new StringBuilder();
        for (int i = 0; i < 9; i++) {
            jsonl.append(i % 3 == 0 ? "{\"text\": \"a good calibration document number " + i + " about pruning\"}"
                    : "{\"text\": \"cut off here").append('\n');
        }
        Path calibration = Files.writeString(dir.resolve("bad.jsonl"), jsonl);
        Path out = dir.resolve("bad-run");
        CliRun.Result[] result = new CliRun.Result[1];
        int jobs = TestSpark.jobsStartedDuring(() -> result[0] = run(() -> prune(calibration, "jsonl", out)));
        CliRun.Result r = result[0];

        assertEquals(1, r.exit());
        assertEquals("spruce: error: " + calibration + ": 6 of 9 records are malformed or longer than 1048576 bytes "
                + "(first: " + calibration + ":2 is not valid JSON); at most 5.0% may be "
                + "(calibration.max-bad-fraction)", r.err().strip().lines().reduce((a, b) -> b).orElse(""));
        assertEquals(0, jobs, "a Spark job ran before the input was refused");
        assertFalse(Files.exists(out), "the refused run left " + out);
    }

    @Test
    void binaryCalibrationIsRefusedBeforeAnySparkJob() throws Exception {
        byte[] bytes = new byte[2048];
        new java.util.Random(1).nextBytes(bytes);
        bytes[7] = 0;
        Path calibration = Files.write(dir.resolve("weights.bin"), bytes);
        Path out = dir.resolve("binary-run");
        CliRun.Result[] result = new CliRun.Result[1];
        int jobs = TestSpark.jobsStartedDuring(() -> result[0] = run(() -> prune(calibration, "text", out)));
        CliRun.Result r = result[0];

        assertEquals(1, r.exit());
        assertTrue(r.err().contains(calibration + ": binary data (a NUL byte at offset "), r.err());
        assertEquals(0, jobs, "a Spark job ran before the input was refused");
        assertFalse(Files.exists(out));
    }

    @Test
    void aFewDroppedRecordsAreCountedInRunJson() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 30; i++) {
            text.append("Calibration document ").append(i).append(" talks about structured pruning on Spark.\n");
        }
        text.append("y".repeat(2_000_000)).append('\n');
        Path calibration = Files.writeString(dir.resolve("one-long.txt"), text);
        Path out = dir.resolve("long-run");

        CliRun.Result r = prune(calibration, "text", out);

        assertEquals(0, r.exit(), r.err());
        var input = new ObjectMapper().readTree(out.resolve("run.json").toFile()).path("calibration_input");
        assertEquals(31, input.path("records").asInt());
        assertEquals(1, input.path("records_over_1048576_bytes").asInt());
        assertEquals(0, input.path("malformed_records").asInt());
    }

    @Test
    void aBrokenTokenizerFailsOnTheDriverBeforeAnySparkJob() throws Exception {
        Path broken = dir.resolve("broken-tokenizer-model");
        Files.createDirectories(broken);
        try (var files = Files.list(model)) {
            for (Path f : files.toList()) {
                Files.copy(f, broken.resolve(f.getFileName()));
            }
        }
        Files.writeString(broken.resolve("tokenizer.json"), "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"");
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            docs.add("A calibration document, number " + i + ", about pruning on Spark.");
        }
        Path calibration = Files.write(dir.resolve("plain.txt"), docs);
        Path out = dir.resolve("tokenizer-run");
        Path conf = Files.writeString(dir.resolve("tokenizer-run.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  model.path = \"" + broken + "\"",
                "  output.dir = \"" + out + "\"",
                "  calibration { path = \"" + calibration + "\", samples = 4, length = 16 }",
                "  prune { ratio = 0.5, attention-layers = \"1:3\", mlp-layers = \"1:4\" }",
                "}"));
        CliRun.Result[] result = new CliRun.Result[1];
        int jobs = TestSpark.jobsStartedDuring(() -> result[0] = CliRun.spruce("prune", "-c", conf.toString()));
        CliRun.Result r = result[0];

        assertEquals(1, r.exit());
        String last = r.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("spruce: error: ") && last.contains("tokenizer.json"), r.err());
        assertEquals(0, jobs, "a Spark job ran before the tokenizer was refused");
        assertFalse(Files.exists(out));
    }
}
