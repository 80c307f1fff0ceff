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
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Calibration data is read once on the driver before any Spark job: bad files fail there, tolerable ones count. */
class BadCalibrationTest {
    @TempDir
    static Path dir;
    static Path model;
    static final AtomicInteger JOBS = new AtomicInteger();

    @BeforeAll
    static void setUp() {
        SparkSession spark = TestSpark.session();
        spark.sparkContext().addSparkListener(new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart jobStart) {
                JOBS.incrementAndGet();
            }
        });
        LlamaConfig c = TinyModels.builder(4, 4, 2).vocabSize(259).build();
        model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
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
        int jobsBefore = JOBS.get();

        CliRun.Result r = prune(calibration, "jsonl", out);

        assertEquals(1, r.exit());
        assertEquals("spruce: error: " + calibration + ": 6 of 9 records are malformed or longer than 1048576 bytes "
                + "(first: " + calibration + ":2 is not valid JSON); at most 5.0% may be "
                + "(calibration.max-bad-fraction)", r.err().strip().lines().reduce((a, b) -> b).orElse(""));
        assertEquals(jobsBefore, JOBS.get(), "a Spark job ran before the input was refused");
        assertFalse(Files.exists(out), "the refused run left " + out);
    }

    @Test
    void binaryCalibrationIsRefusedBeforeAnySparkJob() throws Exception {
        byte[] bytes = new byte[2048];
        new java.util.Random(1).nextBytes(bytes);
        bytes[7] = 0;
        Path calibration = Files.write(dir.resolve("weights.bin"), bytes);
        Path out = dir.resolve("binary-run");
        int jobsBefore = JOBS.get();

        CliRun.Result r = prune(calibration, "text", out);

        assertEquals(1, r.exit());
        assertTrue(r.err().contains(calibration + ": binary data (a NUL byte at offset "), r.err());
        assertEquals(jobsBefore, JOBS.get(), "a Spark job ran before the input was refused");
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
}
