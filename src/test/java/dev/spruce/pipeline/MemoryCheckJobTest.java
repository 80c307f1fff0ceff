package dev.spruce.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.cli.CliRun;
import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.memory.MemoryCheck;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.TestSpark;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory check is wired into the prune job: a plan that cannot fit stops before any Spark job. */
class MemoryCheckJobTest {
    @TempDir
    Path dir;

    @Test
    void pruneRefusesBeforeAnySparkJobWhenTheImportanceStageCannotFit() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(4, 4, 2).vocabSize(259).build();
        Path model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            docs.add("Document number " + i + " talks about pruning large language models on Spark.");
        }
        Path calibration = Files.write(dir.resolve("calibration.txt"), docs, StandardCharsets.UTF_8);
        Path conf = Files.writeString(dir.resolve("job.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  model.path = \"" + model + "\"",
                "  calibration { path = \"" + calibration + "\", samples = 4, length = 16, micro-batch = 2 }",
                "  prune { ratio = 0.5, attention-layers = \"1:3\", mlp-layers = \"1:4\" }",
                "  output.dir = \"" + dir.resolve("run") + "\"",
                "}"));
        CliRun.Result[] r = new CliRun.Result[1];
        try {
            // A margin no machine has: the tiny model's few kilobytes times 1e15 exceed any heap and RAM.
            int jobs = TestSpark.jobsStartedDuring(() -> r[0] = CliRun.spruce("prune", "-c", conf.toString(), "--set",
                    "memory.margin=1e15"));
            assertEquals(1, r[0].exit(), r[0].out());
            String error = r[0].error();
            assertTrue(error.startsWith("memory: importance does not fit one executor (dtype float32, criterion "
                    + "param_first, micro-batch 2, length 16; 2 tasks per resident model): weights "), error);
            assertTrue(error.contains("x margin 1.0E15 = "), error);
            assertTrue(error.contains("(local mode local["), error); // the test session's master
            assertEquals(0, jobs, "a Spark job ran before the memory check refused the stage");
            assertTrue(!Files.exists(dir.resolve("run/scores.json")));
        } finally {
            TestSpark.session().conf().unset(MemoryCheck.MARGIN_KEY);
        }
    }
}
