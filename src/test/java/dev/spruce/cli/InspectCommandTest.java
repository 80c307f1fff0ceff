package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
    /** Vocabulary of the byte tokenizer ({@link TestTokenizers#bytes}): 256 bytes and 3 special tokens. */
    private static final int VOCAB = 259;

    @TempDir
    Path dir;

    private Path model(String name, LlamaConfig c, Map<String, double[]> weights) {
        Path model = dir.resolve(name);
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, weights), DType.F32, null, false);
        TestTokenizers.bytes(model);
        return model;
    }

    private static String weightsFile(Path model) {
        return Fs.path(model.resolve("model.safetensors").toString()).toString();
    }

    @Test
    void printsTheParameterCountOfAWrittenModel() {
        LlamaConfig c = TinyModels.builder(3, 4, 2).vocabSize(VOCAB)
                .layerWidths(new int[] {4, 2, 4}, new int[] {2, 1, 2}, new int[] {24, 5, 0}).build();
        Path model = model("m", c, TinyModels.randomWeights(c, 1));
        CliRun.Result r = CliRun.spruce("inspect", model.toString());
        assertEquals(0, r.exit(), r.err());
        // embed 259*16 + lm_head 259*16 + final norm 16 + layers (norms 32 each; q,o: heads*4*16*2; k,v: kv*4*16*2; mlp 3*16*m)
        long expected = VOCAB * 16 * 2 + 16
                + (32 + 4 * 4 * 16 * 2 + 2 * 4 * 16 * 2 + 3 * 16 * 24)
                + (32 + 2 * 4 * 16 * 2 + 1 * 4 * 16 * 2 + 3 * 16 * 5)
                + (32 + 4 * 4 * 16 * 2 + 2 * 4 * 16 * 2);
        assertTrue(r.out().contains("params=" + expected + "\n"), r.out());
        assertTrue(r.out().contains("weights=ok tensors=" + (3 + 3 * 2 + 3 * 4 + 2 * 3) + " dtypes={F32="
                + (3 + 3 * 2 + 3 * 4 + 2 * 3) + "} unused_tensors=0 finite=all\n"), r.out());
        assertTrue(r.out().contains("tokenizer=ok vocab=259 bos=0 eos=1 pad=2\n"), r.out());
        assertTrue(r.out().contains("uniform=false"), r.out());
    }

    @Test
    void missingConfigIsAClearErrorWithNonZeroExit() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        CliRun.Result r = CliRun.spruce("inspect", empty.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("config.json not found"), r.err());
    }

    /** Every value is read: the first NaN or infinity fails inspect, named by tensor and index. */
    @Test
    void aNonFiniteWeightFailsNamingTheTensorAndTheFirstBadIndex() {
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(VOCAB).build();
        Map<String, double[]> weights = TinyModels.randomWeights(c, 2);
        String up = TensorNames.layer(1, TensorNames.UP);
        weights.get(up)[100] = Double.NaN;
        weights.get(up)[37] = Double.NEGATIVE_INFINITY;
        Path model = model("nan", c, weights);
        CliRun.Result r = CliRun.spruce("inspect", model.toString());
        assertEquals(1, r.exit(), r.out());
        assertEquals(weightsFile(model) + ": tensor '" + up + "' (F32 [24, 16]) has a NaN or infinite value at index 37 "
                + "[2, 5], expected finite weights", r.error());
    }

    @Test
    void aConfigWidthThatDisagreesWithTheWeightsFails() {
        LlamaConfig c = TinyModels.builder(2, 4, 2).vocabSize(VOCAB).build();
        Path model = model("wide", c, TinyModels.randomWeights(c, 3));
        TinyModels.builder(2, 4, 2).vocabSize(VOCAB).intermediateSize(32).build().write(Fs.path(model.toString()));
        CliRun.Result r = CliRun.spruce("inspect", model.toString());
        assertEquals(1, r.exit(), r.out());
        assertEquals(weightsFile(model) + ": tensor 'model.layers.0.mlp.gate_proj.weight' has shape [24, 16], "
                + "config.json calls for [32, 16] (intermediate_size = 32)", r.error());
    }

    @Test
    void aMissingOrBrokenTokenizerFailsNamingTheFile() throws Exception {
        LlamaConfig c = TinyModels.builder(1, 4, 2).vocabSize(VOCAB).build();
        Path model = model("tok", c, TinyModels.randomWeights(c, 4));
        String tokenizer = Fs.path(model.resolve("tokenizer.json").toString()).toString();

        Files.writeString(model.resolve("tokenizer.json"), "{\"model\": {\"vocab\": ");
        CliRun.Result truncated = CliRun.spruce("inspect", model.toString());
        assertEquals(1, truncated.exit());
        assertTrue(truncated.error().startsWith(tokenizer + ": not valid JSON: Unexpected end-of-input"),
                truncated.error());

        Files.writeString(model.resolve("tokenizer.json"), "{\"model\": {\"type\": \"nonsense\", \"vocab\": "
                + "{\"<s>\": 0, \"</s>\": 1, \"<pad>\": 2, \"a\": 3}}}");
        CliRun.Result unloadable = CliRun.spruce("inspect", model.toString());
        assertEquals(1, unloadable.exit());
        assertTrue(unloadable.error().startsWith(tokenizer + ": the tokenizers library cannot load it: "),
                unloadable.error());

        Files.delete(model.resolve("tokenizer.json"));
        CliRun.Result missing = CliRun.spruce("inspect", model.toString());
        assertEquals(1, missing.exit());
        assertEquals(tokenizer + ": tokenizer.json not found (the model directory needs the Hugging Face tokenizer "
                + "file)", missing.error());
    }

    @Test
    void aTokenizerWithIdsPastTheVocabularyFails() {
        LlamaConfig c = TinyModels.builder(1, 4, 2).build(); // vocab_size 37 < the tokenizer's 259 ids
        Path model = model("small-vocab", c, TinyModels.randomWeights(c, 5));
        CliRun.Result r = CliRun.spruce("inspect", model.toString());
        assertEquals(1, r.exit());
        assertEquals(Fs.path(model.resolve("tokenizer.json").toString()) + ": defines token ids up to 258, expected ids "
                + "below config.json vocab_size = 37", r.error());
    }
}
