package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code spruce plan --dry-run} with a cluster shape: the memory table of every stage, from config.json alone. */
class PlanMemoryDryRunTest {
    @TempDir
    Path dir;

    /** The columns of a term's row in a stage's block: name words, part, GiB. */
    private static String gib(String out, String stage, String term) {
        String block = out.substring(out.indexOf("stage " + stage + ":"));
        String line = block.lines().filter(l -> l.startsWith("  " + term + " ")).findFirst().orElseThrow();
        String[] cols = line.substring(2 + term.length()).trim().split("\\s+");
        return cols[0] + " " + cols[1];
    }

    @Test
    void llama7bOnAnEightyGigabyteGpuPrintsEveryStage() {
        CliRun.Result r = CliRun.spruce("plan", "--dry-run", "--model", "conf/shapes/llama-7b.json", "--gpu-memory",
                "80g", "--executor-memory", "64g", "--dtype", "bfloat16", "--set", "calibration.micro-batch=16",
                "--set", "calibration.length=128"); // micro-batch 8 fits since G stays in the leaves (84.34 GiB at 16)
        assertEquals(0, r.exit(), r.err());
        String out = r.out();
        assertTrue(out.contains("\nparams_after=5422977024\n"), out); // the counts are still printed first
        assertTrue(out.contains("memory plan per executor (spark.executor.memory 64.00 GiB"), out);
        assertEquals("gpu 12.55", gib(out, "importance", "weights"));             // 13,476,831,232 bytes
        assertEquals("gpu 10.10", gib(out, "recover", "weights"));                // the pruned model, 5,422,977,024 x 2
        assertEquals("gpu 12.55", gib(out, "evaluate", "weights"));
        assertEquals("gpu 9.80", gib(out, "importance", "gradients of scored members")); // 5,261,754,368 x 2
        assertTrue(out.contains("  would fit: calibration.micro-batch = "), out);
        assertTrue(out.contains("\nmemory: importance DOES NOT FIT; recover fits; evaluate fits\n"), out);
    }

    @Test
    void theJobFileGivesModelSettingsAndClusterShape() throws Exception {
        Path conf = Files.writeString(dir.resolve("job.conf"), String.join("\n",
                "spruce {",
                "  spark.conf { \"spark.executor.memory\" = \"32g\", \"spark.executor.memoryOverhead\" = \"96g\",",
                "               \"spark.executor.cores\" = \"8\", \"spark.task.cpus\" = \"8\" }",
                "  model { path = \"conf/shapes/llama-7b.json\", dtype = float32 }",
                "  importance.criterion = vectorize",
                "  recover { dtype = float32, train.micro-batch = 1 }",
                "}"));
        CliRun.Result r = CliRun.spruce("plan", "--dry-run", "-c", conf.toString());
        assertEquals(0, r.exit(), r.err());
        String out = r.out();
        // A CPU executor: libtorch's tensors live in the 96g overhead, the Java arrays in the 32g heap.
        assertTrue(out.contains("spark.executor.memory 32.00 GiB, memoryOverhead 96.00 GiB, cores 8, task.cpus 8"), out);
        assertEquals("native 25.10", gib(out, "importance", "weights")); // 6,738,415,616 x 4
        assertTrue(out.contains("stage importance: dtype float32, criterion vectorize, micro-batch 4, length 64; "
                + "1 task(s) per resident model"), out);
        assertTrue(Arrays.stream(out.split("\n")).anyMatch(l -> l.startsWith("memory: importance ")), out);
    }
}
