package dev.spruce.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.cli.CliRun;
import dev.spruce.compresso.CompressoSettings;
import dev.spruce.compresso.CompressoTrainable;
import dev.spruce.compresso.LagrangianTerm;
import dev.spruce.compresso.MaskLayout;
import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.Djl;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsFile;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.scope.LayerRange;
import dev.spruce.spark.TestSpark;
import dev.spruce.train.Trainable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spruce prune} with {@code prune.method = compresso} on a tiny float64 GQA model: the run trains, writes its
 * masks, charts and plan, and the smaller model it writes computes what the trained masked model (deterministic
 * masks, LoRA on q and v) computes, to 1e-9 of the largest logit with the RMSNorm epsilon made negligible.
 */
class CompressoJobTest {
    @TempDir
    Path dir;

    private Path model(LlamaConfig c) {
        Path model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F64,
                null, false);
        TestTokenizers.bytes(model);
        return model;
    }

    private Path data() throws Exception {
        StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < 24; i++) {
            json.append(i == 0 ? "" : ",").append("{\"instruction\": \"Spell ").append(i)
                    .append(".\", \"input\": \"\", \"output\": \"").append(Integer.toBinaryString(i)).append("\"}");
        }
        return Files.writeString(dir.resolve("alpaca.json"), json.append("]").toString());
    }

    private static String digest(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    @Test
    void theSmallerModelComputesWhatTheTrainedMaskedModelComputed() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(3, 4, 2).vocabSize(259).maxPositionEmbeddings(512).rmsNormEps(1e-30)
                .build();
        Path model = model(c);
        String before = digest(model.resolve("model.safetensors"));
        Path out = dir.resolve("run");
        // Logits start low enough that the deterministic masks remove units of every kind from the first step on.
        Path conf = Files.writeString(dir.resolve("compresso.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  model { path = \"" + model + "\", dtype = float64 }",
                "  output.dir = \"" + out + "\"",
                "  prune.method = compresso",
                "  compresso {",
                "    data.path = \"" + data() + "\"",
                "    template = alpaca",
                "    cutoff = 200",
                "    layers = \"1:3\"",
                "    initial-logit = -1.0",
                "    drop-rate-init = 0.4",
                "    target-sparsity = 0.3",
                "    warmup-steps = 3",
                "    pre-pruning-steps = 1",
                "    lora { rank = 2, alpha = 2 }",
                "    train { global-batch = 6, micro-batch = 3, max-steps = 6, learning-rate = 1e-2,",
                "            validation-size = 4, eval-every = 3, save-every = 3, partitions = 2 }",
                "  }",
                "}"));
        CliRun.Result r = CliRun.spruce("prune", "-c", conf.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(before, digest(model.resolve("model.safetensors")), "the input model is never modified");
        Path pruned = out.resolve("model");
        LlamaConfig after = LlamaConfig.read(Fs.path(pruned.toString()));
        assertTrue(r.out().contains("params_after=" + after.parameterCount()), r.out());
        assertTrue(after.parameterCount() < c.parameterCount());
        assertTrue(after.hiddenSize() < c.hiddenSize(), "hidden dimensions removed");
        assertTrue(after.layerIntermediate(1) < c.layerIntermediate(1) || after.layerIntermediate(2)
                < c.layerIntermediate(2), "MLP channels removed");
        assertEquals(c.layerIntermediate(0), after.layerIntermediate(0), "layer 0 is outside the band");
        assertEquals(c.layerKvHeads(0), after.layerKvHeads(0));
        JsonNode plan = new ObjectMapper().readTree(out.resolve("plan.json").toFile());
        assertEquals("compresso", plan.path("criterion").asText());
        assertEquals("full_width", plan.path("hidden_norm").asText());
        JsonNode masks = new ObjectMapper().readTree(out.resolve("compresso/masks.json").toFile());
        assertEquals(after.hiddenSize(), masks.path("kept_hidden").asInt());
        assertEquals(6, masks.path("trajectory").path("expected_params").size(), "one expected size per step");
        for (String file : List.of("metrics.csv", LagrangianTerm.SIZE_CHART, LagrangianTerm.LAMBDA_CHART,
                LagrangianTerm.KEPT_CHART, "parameters.safetensors", "adapter/adapter_model.safetensors",
                "adapter/adapter_config.json")) {
            assertTrue(Files.exists(out.resolve("compresso").resolve(file)), file);
        }
        assertTrue(Files.readString(out.resolve("compresso/metrics.csv")).startsWith(
                "step,train_loss,val_loss,lr,grad_norm,tokens,seconds,expected_params,expected_sparsity,"
                        + "target_sparsity,lambda_1,lambda_2,lagrangian"));
        assertTrue(!Files.exists(out.resolve("compresso/merged")), "the merged full-size copy is removed");

        // The trained parameters, bound to the base as the masked model they describe.
        CompressoSettings settings = new CompressoSettings(true, true, true, new LayerRange(1, 3), 2.0 / 3.0, -1,
                0.4, 0.3, 3, CompressoSettings.TargetSchedule.LINEAR, 1, 0.1, true,
                new LoraSettings(2, 2, 0, List.of("q_proj", "v_proj")));
        CompressoTrainable trainable = new CompressoTrainable(c, settings);
        Map<String, double[]> trained = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(Fs.path(out.resolve("compresso/parameters.safetensors")
                .toString()))) {
            for (String name : trainable.shapes().keySet()) {
                trained.put(name, f.readDouble(name));
            }
        }
        assertNotEquals(0.0, trained.get(MaskLayout.LAMBDA_1)[0], "the multipliers were trained");
        int[][] ids = TinyModels.randomIds(c, 2, 9, 21);
        double[] masked;
        double[] smaller;
        try (LlamaModel base = LlamaModel.load(c, WeightSource.of(c, TinyModels.randomWeights(c, 5)),
                DataType.FLOAT64, Device.cpu());
             NDManager step = base.manager().newSubManager()) {
            Map<String, NDArray> leaves = new LinkedHashMap<>();
            trainable.shapes().forEach((name, shape) -> leaves.put(name, step.create(trained.get(name),
                    new Shape(shape))));
            Trainable.Binding b = trainable.bind(base, step, leaves, null);
            masked = Djl.toDoubles(b.model().logits(step, TokenBatch.of(ids), b.hooks()));
        }
        try (SafetensorsModel st = SafetensorsModel.open(Fs.path(pruned.toString()));
             LlamaModel small = LlamaModel.load(after, ModelFiles.weights(st), DataType.FLOAT64, Device.cpu());
             NDManager step = small.manager().newSubManager()) {
            smaller = Djl.toDoubles(small.logits(step, TokenBatch.of(ids), dev.spruce.model.ForwardHooks.NONE));
        }
        double scale = 0;
        for (double x : masked) {
            scale = Math.max(scale, Math.abs(x));
        }
        assertEquals(masked.length, smaller.length);
        for (int i = 0; i < masked.length; i++) {
            assertEquals(masked[i], smaller[i], 1e-9 * scale, "logit " + i);
        }

        // Resume after the run finished: nothing is retrained and the same model is reported.
        byte[] planBytes = Files.readAllBytes(out.resolve("plan.json"));
        byte[] weights = Files.readAllBytes(pruned.resolve("model.safetensors"));
        CliRun.Result again = CliRun.spruce("prune", "-c", conf.toString(), "--resume");
        assertEquals(0, again.exit(), again.err());
        assertTrue(again.out().contains("params_after=" + after.parameterCount()), again.out());
        assertArrayEquals(planBytes, Files.readAllBytes(out.resolve("plan.json")));
        assertArrayEquals(weights, Files.readAllBytes(pruned.resolve("model.safetensors")));
    }

    @Test
    void badSettingsAreOneLineErrorsBeforeAnyOutput() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(512).build();
        Path model = model(c);
        Path data = data();
        String[][] cases = {
                {"prune.method = pruner", "prune.method 'pruner' is not supported; expected llm-pruner or compresso"},
                {"compresso.survivors = some", "compresso.survivors 'some' is not supported; expected fold or one"},
                {"compresso.layers = \"1:9\"", "compresso.layers"},
                {"compresso.target-sparsity = 1.5", "compresso.target-sparsity must be in [0, 1), got 1.5"},
                {"compresso { prune-heads = false, prune-ffn = false, prune-hidden = false }",
                        "at least one of compresso.prune-heads, prune-ffn and prune-hidden must be true"},
                {"compresso.target-schedule = step", "compresso.target-schedule 'step' is not supported"},
                {"compresso.data.kind = images", "compresso.data.kind 'images' is not supported"},
        };
        for (String[] bad : cases) {
            Path out = dir.resolve("bad-" + Math.abs(bad[0].hashCode()));
            Path conf = Files.writeString(dir.resolve("bad.conf"), String.join("\n",
                    "spruce {",
                    "  model.path = \"" + model + "\"",
                    "  output.dir = \"" + out + "\"",
                    "  prune.method = compresso",
                    "  compresso.data.path = \"" + data + "\"",
                    "  " + bad[0],
                    "}"));
            int[] exit = new int[1];
            String[] err = new String[1];
            int jobs = TestSpark.jobsStartedDuring(() -> {
                CliRun.Result r = CliRun.spruce("prune", "-c", conf.toString());
                exit[0] = r.exit();
                err[0] = r.err();
            });
            assertNotEquals(0, exit[0], bad[0]);
            assertTrue(err[0].contains(bad[1]), bad[0] + " -> " + err[0]);
            assertEquals(0, jobs, bad[0] + " started Spark jobs");
            assertTrue(!Files.exists(out), bad[0] + " left an output");
        }
    }
}
