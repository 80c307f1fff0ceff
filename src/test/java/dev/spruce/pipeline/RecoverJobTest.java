package dev.spruce.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.cli.CliRun;
import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsFile;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.spark.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code spruce recover} end to end: instruction data, LoRA steps on Spark, PEFT adapter and merged model. */
class RecoverJobTest {
    @TempDir
    Path dir;

    @Test
    void recoversWritesAdapterAndMergedModelAndCountsMalformedRecords() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(512).build();
        Path model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 3)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
        StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < 24; i++) {
            json.append("{\"instruction\": \"Count to ").append(i).append(".\", \"input\": \"\", \"output\": \"")
                    .append(i).append("\"},");
        }
        json.append("{\"instruction\": \"This record has no output.\"}]");
        Path data = Files.writeString(dir.resolve("alpaca.json"), json);
        Path out = dir.resolve("run");
        Path conf = Files.writeString(dir.resolve("recover.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  output.dir = \"" + out + "\"",
                "  recover {",
                "    model = \"" + model + "\"",
                "    data.path = \"" + data + "\"",
                "    cutoff = 300",
                "    lora { rank = 2, alpha = 4 }",
                "    train { global-batch = 8, micro-batch = 4, max-steps = 3, warmup-steps = 1, learning-rate = 1e-2,",
                "            validation-size = 4, eval-every = 2, save-every = 2, partitions = 2 }",
                "  }",
                "}"));
        CliRun.Result r = CliRun.spruce("recover", "-c", conf.toString());
        assertEquals(0, r.exit(), r.err());
        Path adapter = out.resolve("recover/adapter");
        assertTrue(r.out().contains("adapter=") && r.out().contains("merged="), r.out());
        JsonNode adapterConfig = new ObjectMapper().readTree(adapter.resolve("adapter_config.json").toFile());
        assertEquals(2, adapterConfig.path("r").asInt());
        assertEquals("LORA", adapterConfig.path("peft_type").asText());
        try (SafetensorsFile st = SafetensorsFile.open(Fs.path(adapter.resolve("adapter_model.safetensors").toString()))) {
            assertEquals(2 * 7 * 2, st.tensors().size(), "A and B for 7 modules in 2 layers");
            assertTrue(st.contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
        }
        assertEquals(c.parameterCount(), LlamaConfig.read(Fs.path(out.resolve("recover/merged").toString()))
                .parameterCount());
        assertTrue(Files.exists(out.resolve("recover/metrics.csv")));
        assertTrue(Files.exists(out.resolve("recover/loss.png")));
        JsonNode runJson = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        assertEquals(25, runJson.path("recover").path("records").asInt());
        assertEquals(1, runJson.path("recover").path("malformed_records").asInt());
        assertEquals(20, runJson.path("recover").path("training_samples").asInt());
        assertEquals(3, runJson.path("recover").path("steps").asInt());

        // A resumed recover removes what killed writes left in the run directory, at any depth.
        Path staging = Files.createDirectories(out.resolve("recover/.merged.staging-" + UUID.randomUUID()));
        Files.writeString(staging.resolve("config.json"), "{");
        Path temporary = Files.writeString(out.resolve(".run.json.tmp-" + UUID.randomUUID()), "{");
        CliRun.Result again = CliRun.spruce("recover", "-c", conf.toString(), "--resume");
        assertEquals(0, again.exit(), again.err());
        assertFalse(Files.exists(staging), "stale staging directory left");
        assertFalse(Files.exists(temporary), "stale temporary file left");
    }

    /** The output is checked before the Spark session exists, so before any job (a path under a file: see PruneJobTest). */
    @Test
    void anOutputThatCannotBeCreatedFailsBeforeAnySparkJob() throws Exception {
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(512).build();
        Path model = tinyModel("model-o", c, 3);
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        Path data = Files.writeString(dir.resolve("o.json"), "[{\"instruction\": \"a\", \"output\": \"b\"}]");
        Path conf = Files.writeString(dir.resolve("o.conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  output.dir = \"" + file.resolve("run") + "\"",
                "  recover { model = \"" + model + "\", data.path = \"" + data + "\" }",
                "}"));
        CliRun.Result[] r = new CliRun.Result[1];
        int jobs = TestSpark.jobsStartedDuring(() -> r[0] = CliRun.spruce("recover", "-c", conf.toString()));
        assertEquals(1, r[0].exit(), r[0].out());
        assertEquals("output " + Fs.path(file.resolve("run").toString()) + " cannot be created: " + Fs.path(file.toString())
                + " is a file, expected a directory", r[0].error());
        assertEquals(0, jobs);
        assertEquals("x", Files.readString(file));
    }

    /** A tiny random model with the byte tokenizer (a text of n bytes is n + 1 tokens with BOS). */
    private Path tinyModel(String name, LlamaConfig c, long seed) {
        Path model = dir.resolve(name);
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, seed)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
        return model;
    }

    private Path textConf(String name, Path student, Path teacher, Path data, Path out, String... extra) throws Exception {
        return Files.writeString(dir.resolve(name + ".conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  model.path = \"" + teacher + "\"",
                "  output.dir = \"" + out + "\"",
                "  recover {",
                "    model = \"" + student + "\"",
                "    data { kind = text, path = \"" + data + "\", format = jsonl, field = body, window = 16 }",
                "    objective = distill",
                "    distill { temperature = 2.0, lm-weight = 0.5 }",
                "    lora { rank = 2, alpha = 4 }",
                "    train { global-batch = 2, micro-batch = 2, max-steps = 2, warmup-steps = 1, learning-rate = 1e-2,",
                "            validation-size = 2, eval-every = 1, save-every = 2, partitions = 2 }",
                String.join("\n", extra),
                "  }",
                "}"));
    }

    @Test
    void distillsOnPlainTextWindowsFromTheUnprunedTeacher() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(512).build();
        Path teacher = tinyModel("teacher", c, 5);
        Path student = tinyModel("student", c, 6);
        // Bytes 10, 40, 75, 3, 47 -> tokens 11, 41, 76, 4, 48 -> windows of 16: 0, 2, 4, 0, 3; a record without
        // the field and an empty one are not documents.
        StringBuilder jsonl = new StringBuilder();
        for (int n : new int[] {10, 40, 75, 3, 47}) {
            jsonl.append("{\"body\": \"").append("abcdefghij".repeat(8), 0, n).append("\"}\n");
        }
        jsonl.append("{\"other\": \"no body here\"}\n{\"body\": \"\"}\n");
        Path data = Files.writeString(dir.resolve("text.jsonl"), jsonl);
        Path out = dir.resolve("kd-run");

        CliRun.Result r = CliRun.spruce("recover", "-c", textConf("kd", student, teacher, data, out).toString());

        assertEquals(0, r.exit(), r.err());
        JsonNode recover = new ObjectMapper().readTree(out.resolve("run.json").toFile()).path("recover");
        assertEquals("distill", recover.path("objective").asText());
        assertEquals(teacher.toString(), recover.path("teacher").asText());
        assertEquals("text", recover.path("data_kind").asText());
        assertEquals(9, recover.path("windows").asInt());
        assertEquals(7, recover.path("training_samples").asInt());
        assertEquals(2, recover.path("validation_samples").asInt());
        assertEquals(2, recover.path("steps").asInt());
        assertTrue(Files.exists(out.resolve("recover/merged/model.safetensors")), "merged model");
        String metrics = Files.readString(out.resolve("recover/metrics.csv"));
        assertEquals(3, metrics.strip().split("\n").length, metrics);
        // The student and the resident teacher were loaded on the executors and released when training ended.
        for (Path model : new Path[] {student, teacher}) {
            assertTrue(ExecutorModels.loaded().stream().anyMatch(p -> p.endsWith(model.toString())), model + " loaded");
            assertTrue(ExecutorModels.resident().stream().noneMatch(p -> p.endsWith(model.toString())),
                    model + " still resident: " + ExecutorModels.resident());
        }
    }

    @Test
    void badPlainTextRecoveryInputIsAClearErrorAndWritesNoAdapter() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(512).build();
        Path teacher = tinyModel("teacher-b", c, 5);
        Path student = tinyModel("student-b", c, 6);
        Path wider = tinyModel("teacher-wide", TinyModels.builder(2, 4, 2).vocabSize(300).maxPositionEmbeddings(512)
                .build(), 5);
        Path data = Files.writeString(dir.resolve("short.jsonl"), "{\"body\": \"short\"}\n{\"body\": \"tiny\"}\n");
        Path out = dir.resolve("bad-run");

        CliRun.Result noWindow = CliRun.spruce("recover", "-c", textConf("bad1", student, teacher, data, out).toString());
        assertEquals(1, noWindow.exit());
        assertTrue(noWindow.err().contains("has 16 tokens, so protocol all found no window"), noWindow.err());
        assertTrue(noWindow.err().contains(data.toString()), noWindow.err());

        CliRun.Result noColumn = CliRun.spruce("recover", "-c", textConf("bad2", student, teacher, data, out,
                "data.field = text").toString());
        assertEquals(1, noColumn.exit());
        assertTrue(noColumn.err().contains("field 'text' is not a column"), noColumn.err());

        CliRun.Result vocab = CliRun.spruce("recover", "-c", textConf("bad3", student, wider, data, out).toString());
        assertEquals(1, vocab.exit());
        assertTrue(vocab.err().contains("has vocab_size 300, the model to recover " + student + " has 259"),
                vocab.err());

        CliRun.Result kind = CliRun.spruce("recover", "-c", textConf("bad4", student, teacher, data, out,
                "data.kind = prose").toString());
        assertEquals(1, kind.exit());
        assertTrue(kind.err().contains("recover.data.kind 'prose' is not supported; expected instructions or text"),
                kind.err());

        CliRun.Result objective = CliRun.spruce("recover", "-c", textConf("bad5", student, teacher, data, out,
                "objective = kd").toString());
        assertEquals(1, objective.exit());
        assertTrue(objective.err().contains("recover.objective 'kd' is not supported; expected lm or distill"),
                objective.err());
        assertTrue(!Files.exists(out.resolve("recover/adapter")) && !Files.exists(out.resolve("recover/merged")),
                "bad input left recovery output");
    }

    @Test
    void fullParameterDistillationTrainsEveryWeightAndWritesOnlyTheModel() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(512).build();
        Path teacher = tinyModel("teacher-f", c, 5);
        Path student = tinyModel("student-f", c, 6);
        Path data = Files.writeString(dir.resolve("full.jsonl"), ("{\"body\": \"" + "a quick brown fox ".repeat(4)
                + "\"}\n").repeat(6));
        Path out = dir.resolve("full-run");

        CliRun.Result r = CliRun.spruce("recover", "-c", textConf("full", student, teacher, data, out,
                "trainable = full").toString());

        assertEquals(0, r.exit(), r.err());
        assertEquals("full", new ObjectMapper().readTree(out.resolve("run.json").toFile()).path("recover")
                .path("trainable").asText());
        assertTrue(!Files.exists(out.resolve("recover/adapter")), "full-parameter recovery wrote an adapter");
        Path merged = out.resolve("recover/merged");
        try (SafetensorsModel before = SafetensorsModel.open(Fs.path(student.toString()));
             SafetensorsModel after = SafetensorsModel.open(Fs.path(merged.toString()))) {
            for (String name : new String[] {TensorNames.EMBED, TensorNames.layer(1, TensorNames.DOWN),
                    TensorNames.layer(0, TensorNames.INPUT_NORM)}) {
                double[] w0 = before.readDouble(name);
                double[] w1 = after.readDouble(name);
                double change = 0;
                for (int i = 0; i < w0.length; i++) {
                    change = Math.max(change, Math.abs(w1[i] - w0[i]));
                }
                assertTrue(change > 1e-4, name + " did not move: " + change);
            }
        }
    }

    @Test
    void precomputedTopKTargetsAreWrittenOnceAndTrainWithoutATeacherTask() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(512).build();
        Path teacher = tinyModel("teacher-k", c, 5);
        Path student = tinyModel("student-k", c, 6);
        Path data = Files.writeString(dir.resolve("topk.jsonl"), ("{\"body\": \"" + "over the lazy dog ".repeat(4)
                + "\"}\n").repeat(5));
        Path out = dir.resolve("topk-run");

        CliRun.Result r = CliRun.spruce("recover", "-c", textConf("topk", student, teacher, data, out,
                "distill { teacher-source = top-k, top-k = 8 }").toString());

        assertEquals(0, r.exit(), r.err());
        JsonNode recover = new ObjectMapper().readTree(out.resolve("run.json").toFile()).path("recover");
        assertEquals("distill-top-k", recover.path("objective").asText());
        assertEquals("top-k", recover.path("teacher_source").asText());
        assertEquals(8, recover.path("top_k").asInt());
        // 5 documents of 72 bytes = 73 tokens with BOS: 4 windows of 16 each
        assertEquals(20, recover.path("windows").asInt());
        String about = Files.readString(out.resolve("recover/teacher-top-k/targets.json"));
        assertTrue(about.contains("\"k\": 8") && about.contains("\"samples\": 20"), about);
        assertTrue(Files.exists(out.resolve("recover/merged/model.safetensors")));

        CliRun.Result tooMany = CliRun.spruce("recover", "-c", textConf("topk-bad", student, teacher, data,
                dir.resolve("topk-bad"), "distill { teacher-source = top-k, top-k = 300 }").toString());
        assertEquals(1, tooMany.exit());
        assertTrue(tooMany.err().contains("recover.distill.top-k = 300 exceeds the teacher's vocab_size 259"),
                tooMany.err());
    }
}
