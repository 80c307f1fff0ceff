package dev.spruce.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.cli.CliRun;
import dev.spruce.data.PromptTemplate;
import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.TestSpark;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code spruce recover} with {@code recover.data.template = collaborative}: Compresso's prompt around every record. */
class CollaborativeRecoverTest {
    @TempDir
    Path dir;

    @Test
    void recoverTrainsOnCollaborativePromptsAndRefusesACutoffTheyDoNotFit() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(259).maxPositionEmbeddings(1200).build();
        Path model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 4)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
        StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < 8; i++) {
            json.append(i == 0 ? "" : ",").append("{\"instruction\": \"Count to ").append(i)
                    .append(".\", \"input\": \"\", \"output\": \"").append(i).append("\"}");
        }
        Path data = Files.writeString(dir.resolve("alpaca.json"), json.append("]"));
        // The byte tokenizer: one token per byte, plus BOS.
        int promptTokens = PromptTemplate.collaborative().prompt("Count to 0.", "").getBytes(StandardCharsets.UTF_8).length + 1;
        Path out = dir.resolve("run");
        CliRun.Result r = CliRun.spruce("recover", "-c", conf(model, data, out, promptTokens + 8).toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode recover = new ObjectMapper().readTree(out.resolve("run.json").toFile()).path("recover");
        assertEquals("collaborative", recover.path("template").asText());
        assertEquals(0, recover.path("prompt_longer_than_cutoff").asInt());
        assertEquals(6, recover.path("training_samples").asInt(), "8 records, 2 held out for validation");

        // The default cutoff of 256 is shorter than the prompt alone: every record is refused, and the error says so.
        CliRun.Result refused = CliRun.spruce("recover", "-c", conf(model, data, dir.resolve("run2"), 256).toString());
        assertEquals(1, refused.exit(), refused.out());
        assertTrue(refused.error().contains("has no usable instruction record (8 records, 0 usable, 0 malformed")
                && refused.error().contains("8 with a prompt longer than the cutoff"), refused.error());
    }

    private Path conf(Path model, Path data, Path out, int cutoff) throws Exception {
        return Files.writeString(dir.resolve("recover-" + cutoff + ".conf"), String.join("\n",
                "spruce {",
                "  spark.master = \"local[2]\"",
                "  output.dir = \"" + out + "\"",
                "  recover {",
                "    model = \"" + model + "\"",
                "    data { path = \"" + data + "\", template = collaborative }",
                "    cutoff = " + cutoff,
                "    use-best = false",
                "    lora { rank = 2, alpha = 4 }",
                "    train { global-batch = 2, micro-batch = 2, max-steps = 1, warmup-steps = 1, learning-rate = 1e-2,",
                "            validation-size = 2, eval-every = 1, save-every = 1, partitions = 2 }",
                "  }",
                "}"));
    }
}
