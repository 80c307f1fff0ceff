package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.importance.ImportanceScores;
import dev.spruce.importance.ImportanceScoresJson;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.model.safetensors.SafetensorsWriter;
import dev.spruce.model.safetensors.Tensor;
import dev.spruce.model.safetensors.TensorInfo;
import dev.spruce.scope.InvalidPlanException;
import dev.spruce.scope.LayerRange;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The pruned model directory: values, layout, config, side files, and what happens on bad input. */
class PlanApplierFilesTest {
    private static final LlamaConfig GQA = TinyModels.config(3, 4, 2);
    private static final Map<DType, String> TORCH_DTYPES = Map.of(DType.F64, "float64", DType.F32, "float32",
            DType.F16, "float16", DType.BF16, "bfloat16");

    @TempDir
    java.nio.file.Path tmp;

    /** Layers 1..2 at r = 0.5 (one of two kv groups, 12 of 24 MLP channels), or 4 of 16 hidden channels. */
    private static PrunePlan gqaPlan(boolean channelWise, long seed) {
        PlanSettings settings = channelWise
                ? PlanSettings.builder().ratio(0.25).channelWise(true).layers(LayerRange.all(3)).build()
                : PlanSettings.builder().ratio(0.5).layers(new LayerRange(1, 3)).build();
        return Planner.plan(GQA, ApplyFixtures.randomScores(GQA, seed), settings);
    }

    private Path source(LlamaConfig c, DType dtype, long maxShardBytes) {
        return ApplyFixtures.writeModel(tmp.resolve("source"), c, TinyModels.randomWeights(c, 5), dtype, maxShardBytes);
    }

    private Path output() {
        return ApplyFixtures.hadoop(tmp.resolve("pruned"));
    }

    @ParameterizedTest
    @CsvSource({"F64, false", "F32, false", "F16, false", "BF16, false", "BF16, true"})
    void keptValuesAreTheSourceBytesAtTheKeptPositions(DType dtype, boolean channelWise) {
        Path src = source(GQA, dtype, 4096);
        List<String> before = ApplyFixtures.snapshot(tmp.resolve("source"));
        assertTrue(before.size() > 4, "the source is sharded: " + before);
        PrunePlan plan = gqaPlan(channelWise, 7);
        PlanApplier.apply(src, plan, output(), ApplyOptions.defaults().withMaxShardBytes(3000));

        assertEquals(before, ApplyFixtures.snapshot(tmp.resolve("source")), "the source directory changed");
        assertTrue(Fs.exists(new Path(output(), SafetensorsModel.INDEX_FILE)), "the output is sharded");
        assertEquals(TORCH_DTYPES.get(dtype), LlamaConfig.read(output()).torchDtype());
        Map<String, long[]> expectedShapes = TensorNames.expectedShapes(plan.prunedConfig());
        int untouched = 0;
        try (SafetensorsModel source = SafetensorsModel.open(src);
             SafetensorsModel pruned = SafetensorsModel.open(output())) {
            assertEquals(new TreeMap<>(expectedShapes).keySet().stream().toList(), pruned.names());
            for (String name : expectedShapes.keySet()) {
                TensorInfo info = pruned.info(name);
                assertEquals(dtype, info.dtype(), name);
                assertArrayEquals(expectedShapes.get(name), info.shape(), name);
                long[] sourceShape = source.info(name).shape();
                int[][] positions = sourcePositions(plan, name, sourceShape);
                byte[] sourceBytes = source.readRaw(name);
                byte[] prunedBytes = pruned.readRaw(name);
                byte[] expected = gather(sourceBytes, dtype.byteSize(), columns(sourceShape), positions[0],
                        positions[1]);
                assertArrayEquals(expected, prunedBytes, name);
                if (positions[0].length == sourceShape[0] && positions[1].length == columns(sourceShape)) {
                    assertArrayEquals(sourceBytes, prunedBytes, name);
                    untouched++;
                }
            }
        }
        // Block-wise: embeddings, final norm, LM head, all 9 tensors of layer 0 and the 4 norms of layers 1..2.
        assertEquals(channelWise ? 0 : 16, untouched);
    }

    @Test
    void uniformPlanWritesOnlyStandardConfigFields() throws IOException {
        // MHA, every layer at r = 0.5: 4 -> 2 heads, MLP 24 -> 12.
        LlamaConfig c = TinyModels.config(2, 4, 4);
        Path src = source(c, DType.F32, ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        PrunePlan plan = Planner.plan(c, ApplyFixtures.randomScores(c, 3),
                PlanSettings.builder().ratio(0.5).layers(LayerRange.all(2)).build());
        PlanApplier.apply(src, plan, output(), ApplyOptions.defaults());

        String text = Files.readString(tmp.resolve("pruned/config.json"));
        assertFalse(text.contains("spruce_"), text);
        JsonNode json = new ObjectMapper().readTree(text);
        assertEquals(2, json.get("num_attention_heads").asInt());
        assertEquals(2, json.get("num_key_value_heads").asInt());
        assertEquals(12, json.get("intermediate_size").asInt());
        assertEquals(16, json.get("hidden_size").asInt());
        assertEquals(4, json.get("head_dim").asInt());
        assertEquals("float32", json.get("torch_dtype").asText());
        // 37 * 16 * 2 + 16 outside the layers; per layer 2 * 16 + 16 * 8 * 4 + 3 * 16 * 12 = 1120.
        assertEquals(3440, plan.paramsAfter());
        try (LlamaModel pruned = ModelFiles.load(output(), DataType.FLOAT32, Device.cpu())) {
            assertEquals(3440, pruned.parameterCount());
        }
    }

    @Test
    void nonUniformPlanRoundTripsPerLayerWidthsAndSideFiles() throws IOException {
        Path src = source(GQA, DType.F64, ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        ImportanceScores scores = ApplyFixtures.randomScores(GQA, 9);
        PrunePlan plan = Planner.plan(GQA, scores,
                PlanSettings.builder().ratio(0.5).layers(new LayerRange(1, 3)).build());
        PlanApplier.apply(src, plan, output(), ApplyOptions.defaults().withScores(scores));

        assertTrue(Files.readString(tmp.resolve("pruned/config.json")).contains(LlamaConfig.LAYER_HEADS_FIELD));
        LlamaConfig written = LlamaConfig.read(output());
        assertArrayEquals(new int[] {4, 2, 2}, written.layerHeads());
        assertArrayEquals(new int[] {2, 1, 1}, written.layerKvHeads());
        assertArrayEquals(new int[] {24, 12, 12}, written.layerIntermediate());
        assertArrayEquals(plan.prunedConfig().layerHeads(), written.layerHeads());
        assertArrayEquals(plan.prunedConfig().layerKvHeads(), written.layerKvHeads());
        assertArrayEquals(plan.prunedConfig().layerIntermediate(), written.layerIntermediate());
        assertEquals(16, written.hiddenSize());
        // 1200 outside the layers; layer 0 keeps 1952, layers 1 and 2 keep 32 + 16 * 8 * 2 + 16 * 4 * 2 + 576 = 992.
        assertEquals(5136, plan.paramsAfter());
        try (LlamaModel pruned = ModelFiles.load(output(), DataType.FLOAT64, Device.cpu())) {
            assertEquals(plan.paramsAfter(), pruned.parameterCount());
        }

        assertEquals(plan.layers(), PrunePlan.read(new Path(output(), PlanApplier.PLAN_FILE)).layers());
        ImportanceScores writtenScores = ImportanceScoresJson.read(new Path(output(), PlanApplier.SCORES_FILE));
        assertArrayEquals(scores.mlp()[2], writtenScores.mlp()[2]);
        assertEquals(ApplyFixtures.TOKENIZER_JSON, Files.readString(tmp.resolve("pruned/tokenizer.json")));
        assertEquals(List.of("config.json", "model.safetensors", "plan.json", "scores.json", "tokenizer.json"),
                ApplyFixtures.listing(tmp.resolve("pruned")));
    }

    @Test
    void planForAnotherModelIsRefusedAndLeavesNoOutput() {
        Path src = source(GQA, DType.F64, ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        LlamaConfig mha = TinyModels.config(3, 4, 4);
        PrunePlan plan = Planner.plan(mha, ApplyFixtures.randomScores(mha, 1),
                PlanSettings.builder().ratio(0.5).layers(new LayerRange(1, 3)).build());
        InvalidPlanException e = assertThrows(InvalidPlanException.class,
                () -> PlanApplier.apply(src, plan, output(), ApplyOptions.defaults()));
        assertTrue(e.getMessage().contains("the plan was made for num_key_value_heads 4 but "
                + new Path(src, "config.json") + " has 2"), e.getMessage());
        assertEquals(List.of("source"), ApplyFixtures.listing(tmp));
    }

    @Test
    void missingTensorIsNamedAndLeavesNoOutput() {
        Path src = source(GQA, DType.F64, ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        String missing = TensorNames.layer(1, TensorNames.K);
        Map<String, Tensor> kept = new TreeMap<>();
        try (SafetensorsModel model = SafetensorsModel.open(src)) {
            for (String name : model.names()) {
                if (!name.equals(missing)) {
                    kept.put(name, Tensor.of(DType.F64, model.info(name).shape(), model.readDouble(name)));
                }
            }
        }
        SafetensorsWriter.write(new Path(src, SafetensorsModel.SINGLE_FILE), kept, Map.of());
        InvalidModelException e = assertThrows(InvalidModelException.class,
                () -> PlanApplier.apply(src, gqaPlan(false, 2), output(), ApplyOptions.defaults()));
        assertTrue(e.getMessage().contains("tensor '" + missing + "' is missing"), e.getMessage());
        assertEquals(List.of("source"), ApplyFixtures.listing(tmp));
    }

    @Test
    void failureAfterTheWeightsWereWrittenLeavesNoOutput() throws IOException {
        Path src = source(GQA, DType.F64, ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        // A tokenizer file that is a directory cannot be copied: the failure comes after every tensor was written.
        Files.createDirectory(tmp.resolve("source/tokenizer_config.json"));
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> PlanApplier.apply(src, gqaPlan(false, 2), output(), ApplyOptions.defaults()));
        assertTrue(e.getMessage().contains("tokenizer_config.json"), e.getMessage());
        assertEquals(List.of("source"), ApplyFixtures.listing(tmp));
    }

    @Test
    void outputOverlappingTheSourceIsRefused() {
        Path src = source(GQA, DType.F64, ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        List<String> before = ApplyFixtures.snapshot(tmp.resolve("source"));
        for (Path overlapping : new Path[] {src, new Path(src, "pruned"), ApplyFixtures.hadoop(tmp)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PlanApplier.apply(src,
                    gqaPlan(false, 2), overlapping, ApplyOptions.defaults().withOverwrite(true)));
            assertTrue(e.getMessage().contains("overlaps the source model directory"), e.getMessage());
        }
        assertEquals(before, ApplyFixtures.snapshot(tmp.resolve("source")));
    }

    // ---------------------------------------------------------------- expected positions, computed directly

    /**
     * For each output row and column, the source row and column it comes from (llm-pruner.md §1.2). A vector is a
     * column: its only column is 0.
     */
    private static int[][] sourcePositions(PrunePlan plan, String name, long[] shape) {
        LlamaConfig c = plan.sourceConfig();
        int[] hidden = plan.keptHidden();
        int[] allRows = IntStream.range(0, (int) shape[0]).toArray();
        int[] vector = {0};
        int l = TensorNames.layerOf(name);
        if (l < 0) {
            return name.equals(TensorNames.FINAL_NORM) ? new int[][] {hidden, vector} : new int[][] {allRows, hidden};
        }
        LayerPlan layer = plan.layer(l);
        int[] query = channelsOfHeads(layer.keptHeads(), c.headDim());
        int[] keyValue = channelsOfHeads(layer.keptKvGroups(), c.headDim());
        int[] mlp = layer.keptChannels();
        return switch (TensorNames.suffixOf(name)) {
            case TensorNames.Q -> new int[][] {query, hidden};
            case TensorNames.K, TensorNames.V -> new int[][] {keyValue, hidden};
            case TensorNames.O -> new int[][] {hidden, query};
            case TensorNames.GATE, TensorNames.UP -> new int[][] {mlp, hidden};
            case TensorNames.DOWN -> new int[][] {hidden, mlp};
            default -> new int[][] {hidden, vector};
        };
    }

    private static int[] channelsOfHeads(int[] heads, int headDim) {
        List<Integer> channels = new ArrayList<>();
        for (int head : heads) {
            for (int j = 0; j < headDim; j++) {
                channels.add(head * headDim + j);
            }
        }
        return channels.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int columns(long[] shape) {
        return shape.length == 1 ? 1 : (int) shape[1];
    }

    private static byte[] gather(byte[] source, int elementBytes, int sourceColumns, int[] rows, int[] columns) {
        byte[] out = new byte[rows.length * columns.length * elementBytes];
        int k = 0;
        for (int r : rows) {
            for (int col : columns) {
                for (int b = 0; b < elementBytes; b++) {
                    out[k++] = source[(r * sourceColumns + col) * elementBytes + b];
                }
            }
        }
        return out;
    }
}
