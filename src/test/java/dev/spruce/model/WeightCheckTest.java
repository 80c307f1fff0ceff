package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.model.safetensors.SafetensorsWriter;
import dev.spruce.model.safetensors.TensorInfo;
import dev.spruce.model.safetensors.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Weights checked against their config on real model directories: shapes, unplaced tensors, dtypes, NaN. */
class WeightCheckTest {
    private static final LlamaConfig CONFIG = TinyModels.config(2, 4, 2);

    @TempDir
    Path dir;

    private org.apache.hadoop.fs.Path model(String name, LlamaConfig c, Map<String, double[]> weights) {
        org.apache.hadoop.fs.Path m = Fs.path(dir.resolve(name).toString());
        ModelFiles.write(m, c, WeightSource.of(c, weights), DType.F32, null, false);
        return m;
    }

    private org.apache.hadoop.fs.Path model(String name) {
        return model(name, CONFIG, TinyModels.randomWeights(CONFIG, 1));
    }

    private static String weightsFile(org.apache.hadoop.fs.Path model) {
        return new org.apache.hadoop.fs.Path(model, SafetensorsModel.SINGLE_FILE).toString();
    }

    private static String failure(org.apache.hadoop.fs.Path model, WeightCheck.Scan scan) {
        return assertThrows(InvalidModelException.class, () -> ModelFiles.check(model, scan)).getMessage();
    }

    @Test
    void aConsistentModelPasses() {
        WeightCheck.Summary s = ModelFiles.check(model("ok"), WeightCheck.Scan.FULL);
        assertEquals(TensorNames.expectedShapes(CONFIG).size(), s.tensors());
        assertEquals(Map.of("F32", s.tensors()), s.dtypes());
        assertEquals(List.of(), s.unused());
    }

    @Test
    void aWidthThatDisagreesWithTheShapesNamesTensorShapeAndField() {
        org.apache.hadoop.fs.Path m = model("narrow");
        TinyModels.builder(2, 4, 2).intermediateSize(12).build().write(m);
        assertEquals(weightsFile(m) + ": tensor 'model.layers.0.mlp.gate_proj.weight' has shape [24, 16], config.json "
                + "calls for [12, 16] (intermediate_size = 12)", failure(m, WeightCheck.Scan.NONE));

        TinyModels.builder(2, 2, 2).build().write(m);
        assertEquals(weightsFile(m) + ": tensor 'model.layers.0.self_attn.q_proj.weight' has shape [16, 16], "
                + "config.json calls for [8, 16] (num_attention_heads = 2 x head_dim = 4)", failure(m, WeightCheck.Scan.NONE));

        TinyModels.builder(2, 4, 2).hiddenSize(8).build().write(m);
        assertEquals(weightsFile(m) + ": tensor 'model.embed_tokens.weight' has shape [37, 16], config.json calls for "
                + "[37, 8] (hidden_size = 8)", failure(m, WeightCheck.Scan.NONE));
    }

    @Test
    void weightsTheConfigHasNoPlaceForAreRefused() {
        org.apache.hadoop.fs.Path m = model("extra");
        TinyModels.builder(2, 4, 2).layerWidths(null, null, new int[] {24, 0}).build().write(m);
        assertEquals(weightsFile(m) + ": tensor 'model.layers.1.mlp.down_proj.weight' (shape [16, 24]) is in the "
                + "weights, but config.json spruce_intermediate_size_per_layer[1] = 0 calls for no such tensor",
                failure(m, WeightCheck.Scan.NONE));

        TinyModels.builder(1, 4, 2).build().write(m);
        assertEquals(weightsFile(m) + ": tensor 'model.layers.1.input_layernorm.weight' (shape [16]) is in the "
                + "weights, but config.json num_hidden_layers = 1 calls for no such tensor", failure(m, WeightCheck.Scan.NONE));
    }

    @Test
    void aMissingTensorIsNamedWithTheShapeItNeeds() {
        org.apache.hadoop.fs.Path m = model("short");
        TinyModels.builder(3, 4, 2).build().write(m);
        assertEquals(m + ": tensor 'model.layers.2.input_layernorm.weight' is missing from the weights; config.json "
                + "calls for shape [16] (hidden_size = 16)", failure(m, WeightCheck.Scan.NONE));
    }

    /** One weight's stored bytes relabelled as an integer dtype, same shape: the file is valid, the weights are not. */
    @Test
    void integerDtypesAreRefusedForWeights() {
        String gate = TensorNames.layer(1, TensorNames.GATE);
        for (DType integer : new DType[] {DType.I64, DType.I32, DType.I16, DType.I8, DType.U8, DType.BOOL}) {
            org.apache.hadoop.fs.Path m = model("int-" + integer);
            relabel(m, gate, integer);
            assertEquals(weightsFile(m) + ": tensor '" + gate + "' has dtype " + integer + ", expected a "
                    + "floating-point dtype (F32, F16, BF16 or F64)", failure(m, WeightCheck.Scan.NONE));
        }
    }

    /**
     * Rewrites the model's weights file with tensor {@code name} stored as {@code dtype} in the same shape; its
     * bytes are the F32 bytes it had, repeated or cut to the length the new dtype needs.
     */
    private static void relabel(org.apache.hadoop.fs.Path model, String name, DType dtype) {
        Map<String, byte[]> raw = new LinkedHashMap<>();
        List<TensorSpec> specs = new ArrayList<>();
        try (SafetensorsModel st = SafetensorsModel.open(model)) {
            for (String n : st.names()) {
                TensorInfo info = st.info(n);
                TensorSpec spec = new TensorSpec(n, n.equals(name) ? dtype : info.dtype(), info.shape());
                byte[] stored = st.readRaw(n);
                byte[] bytes = new byte[(int) spec.byteSize()];
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] = stored[i % stored.length];
                }
                specs.add(spec);
                raw.put(n, bytes);
            }
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(new org.apache.hadoop.fs.Path(model,
                SafetensorsModel.SINGLE_FILE), specs, Map.of())) {
            specs.forEach(spec -> w.writeRaw(spec.name(), raw.get(spec.name())));
        }
    }

    @Test
    void aNonFiniteWeightIsFoundAtItsFirstIndex() {
        Map<String, double[]> weights = TinyModels.randomWeights(CONFIG, 2);
        String down = TensorNames.layer(1, TensorNames.DOWN);
        weights.get(down)[40] = Double.POSITIVE_INFINITY;
        weights.get(down)[17] = Double.NaN;
        org.apache.hadoop.fs.Path m = model("nan", CONFIG, weights);
        String expected = weightsFile(m) + ": tensor '" + down + "' (F32 [16, 24]) has a NaN or infinite value at "
                + "index 17 [0, 17], expected finite weights";
        assertEquals(expected, failure(m, WeightCheck.Scan.FULL));
        assertEquals(expected, failure(m, WeightCheck.Scan.SAMPLE), "a tensor smaller than the sample is read whole");
        assertEquals(TensorNames.expectedShapes(CONFIG).size(), ModelFiles.check(m, WeightCheck.Scan.NONE).tensors());
        // Loading for compute samples the values too, so an executor never computes with them.
        assertEquals(expected, assertThrows(InvalidModelException.class,
                () -> ModelFiles.load(m, DataType.FLOAT32, Device.cpu())).getMessage());
    }

    /**
     * The sample is three runs of 1024 elements (start, middle, end); a NaN between them passes the sample and is
     * found by the full scan that spruce inspect runs.
     */
    @Test
    void theSampleReadsThreeRunsAndTheFullScanReadsEveryElement() {
        LlamaConfig wide = TinyModels.builder(1, 4, 2).vocabSize(259).build(); // embedding: 259 x 16 = 4144 values
        for (int index : new int[] {0, 1023, 4144 / 2, 4143}) {
            Map<String, double[]> weights = TinyModels.randomWeights(wide, 3);
            weights.get(TensorNames.EMBED)[index] = Double.NaN;
            org.apache.hadoop.fs.Path m = model("sampled-" + index, wide, weights);
            String message = failure(m, WeightCheck.Scan.SAMPLE);
            assertEquals(weightsFile(m) + ": tensor 'model.embed_tokens.weight' (F32 [259, 16]) has a NaN or infinite "
                    + "value at index " + index + " [" + index / 16 + ", " + index % 16 + "], expected finite weights",
                    message);
        }
        Map<String, double[]> weights = TinyModels.randomWeights(wide, 3);
        weights.get(TensorNames.EMBED)[1200] = Double.NEGATIVE_INFINITY;
        org.apache.hadoop.fs.Path m = model("between", wide, weights);
        ModelFiles.check(m, WeightCheck.Scan.SAMPLE);
        assertEquals(weightsFile(m) + ": tensor 'model.embed_tokens.weight' (F32 [259, 16]) has a NaN or infinite "
                + "value at index 1200 [75, 0], expected finite weights", failure(m, WeightCheck.Scan.FULL));
    }
}
