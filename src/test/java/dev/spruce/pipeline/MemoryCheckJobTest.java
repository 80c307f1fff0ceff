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

    private Path tinyModel() {
        LlamaConfig c = TinyModels.builder(4, 4, 2).vocabSize(259).build();
        Path model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
        return model;
    }

    /** Runs spruce with an impossible margin; asserts the one-line refusal of {@code stage} and that no job ran. */
    private static String refused(String stage, String... args) {
        CliRun.Result[] r = new CliRun.Result[1];
        try {
            // A margin no machine has: the tiny model's few kilobytes times 1e15 exceed any heap and RAM.
            List<String> all = new ArrayList<>(List.of(args));
            all.addAll(List.of("--set", "memory.margin=1e15"));
            int jobs = TestSpark.jobsStartedDuring(() -> r[0] = CliRun.spruce(all.toArray(new String[0])));
            assertEquals(1, r[0].exit(), r[0].out());
            String error = r[0].error();
            assertTrue(error.startsWith("memory: " + stage + " does not fit one executor ("), error);
            assertTrue(error.contains("x margin 1.0E15 = "), error);
            assertEquals(0, jobs, "a Spark job ran before the memory check refused " + stage);
            return error;
        } finally {
            TestSpark.session().conf().unset(MemoryCheck.MARGIN_KEY);
        }
    }

    @Test
    void evaluateRefusesBeforeAnySparkJob() throws Exception {
        TestSpark.session();
        Path model = tinyModel();
        Path text = Files.write(dir.resolve("heldout.txt"), List.of("Some held-out text about pruning.",
                "More held-out text about Spark."), StandardCharsets.UTF_8);
        Path conf = Files.writeString(dir.resolve("evaluate.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  evaluate { perplexity = [{name = heldout, path = \"" + text + "\", seq-len = 16}],",
                "             batch-tokens = 64, generation.prompts = [] }",
                "  output.dir = \"" + dir.resolve("eval-run") + "\"",
                "}"));
        String error = refused("evaluate", "evaluate", "-c", conf.toString(), "--model", model.toString());
        assertTrue(error.contains("(dtype auto, batch-tokens 64, longest sequence 16; 2 tasks per resident model)"),
                error);
    }

    @Test
    void recoverRefusesBeforeAnySparkJob() throws Exception {
        TestSpark.session();
        Path model = tinyModel();
        Path data = Files.writeString(dir.resolve("alpaca.json"), "[{\"instruction\": \"Say hi.\", \"input\": \"\", "
                + "\"output\": \"Hi.\"}, {\"instruction\": \"Count.\", \"input\": \"\", \"output\": \"1 2 3\"}]");
        Path conf = Files.writeString(dir.resolve("recover.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  recover { model = \"" + model + "\", data.path = \"" + data + "\", cutoff = 32,",
                "            train { global-batch = 2, micro-batch = 1, max-steps = 1, validation-size = 0 } }",
                "  output.dir = \"" + dir.resolve("recover-run") + "\"",
                "}"));
        String error = refused("recover", "recover", "-c", conf.toString());
        assertTrue(error.contains("(dtype auto, lora rank 8 on 7 modules, micro-batch 1, length 32; "), error);
    }

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
