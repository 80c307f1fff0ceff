package dev.spruce.model;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.io.AtomicDirectory;
import dev.spruce.io.Fs;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.model.safetensors.ShardedWriter;
import dev.spruce.model.safetensors.TensorSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;

/** A model directory in Hugging Face layout: config.json, safetensors weights, tokenizer files. */
public final class ModelFiles {
    /** Tokenizer and generation files copied along with a model when they exist. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "generation_config.json");
    /** Default maximum shard size when writing: 5 GB, as Hugging Face. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    private ModelFiles() {}

    /**
     * Loads config and weights (converted to {@code type} on {@code device}), after checking the weights against
     * the config with a sampled scan for NaN and infinity ({@link WeightCheck}): a model loaded for compute never
     * turns a bad file into NaN results.
     */
    public static LlamaModel load(Path dir, DataType type, Device device) {
        LlamaConfig config = LlamaConfig.read(dir);
        try (SafetensorsModel weights = SafetensorsModel.open(dir)) {
            WeightCheck.check(config, weights, WeightCheck.Scan.SAMPLE);
            return LlamaModel.load(config, weights(weights), type, device);
        }
    }

    /** Reads config.json and checks the weights against it without loading them ({@link WeightCheck}). */
    public static WeightCheck.Summary check(Path dir, WeightCheck.Scan scan) {
        LlamaConfig config = LlamaConfig.read(dir);
        try (SafetensorsModel weights = SafetensorsModel.open(dir)) {
            return WeightCheck.check(config, weights, scan);
        }
    }

    /** A safetensors model as a {@link WeightSource}. */
    public static WeightSource weights(SafetensorsModel st) {
        return new WeightSource() {
            @Override
            public boolean contains(String name) {
                return st.contains(name);
            }

            @Override
            public long[] shape(String name) {
                return st.info(name).shape();
            }

            @Override
            public float[] readFloat(String name) {
                return st.readFloat(name);
            }

            @Override
            public void readFloat(String name, long first, java.nio.FloatBuffer into) {
                st.readFloat(name, first, into);
            }

            @Override
            public double[] readDouble(String name) {
                return st.readDouble(name);
            }
        };
    }

    /**
     * Writes a whole model from host weights into {@code dir} (atomically: the directory appears
     * complete or not at all), storing tensors as {@code dtype}. Tokenizer files are copied from
     * {@code tokenizerFrom} when it is not null.
     */
    public static void write(Path dir, LlamaConfig config, WeightSource weights, DType dtype, Path tokenizerFrom,
                             boolean overwrite) {
        try (AtomicDirectory out = new AtomicDirectory(dir, overwrite)) {
            writeInto(out.dir(), config, weights, dtype, DEFAULT_MAX_SHARD_BYTES);
            if (tokenizerFrom != null) {
                copyTokenizer(tokenizerFrom, out.dir());
            }
            out.commit();
        }
    }

    /** Writes config.json and weights into an existing (staging) directory. */
    public static void writeInto(Path dir, LlamaConfig config, WeightSource weights, DType dtype, long maxShardBytes) {
        Map<String, long[]> shapes = TensorNames.expectedShapes(config);
        List<TensorSpec> specs = new ArrayList<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            specs.add(TensorSpec.of(e.getKey(), dtype, e.getValue()));
        }
        try (ShardedWriter writer = ShardedWriter.create(dir, specs, maxShardBytes, Map.of())) {
            for (TensorSpec spec : specs) {
                if (dtype == DType.F64) {
                    writer.write(spec.name(), weights.readDouble(spec.name()));
                } else {
                    writer.write(spec.name(), weights.readFloat(spec.name()));
                }
            }
        }
        config.toBuilder().torchDtype(torchDtype(dtype)).build().write(dir);
    }

    /** Copies the tokenizer files that exist in {@code from} into {@code to}. */
    public static void copyTokenizer(Path from, Path to) {
        for (String name : TOKENIZER_FILES) {
            Path src = new Path(from, name);
            if (Fs.exists(src)) {
                Fs.copy(src, new Path(to, name));
            }
        }
    }

    public static String torchDtype(DType dtype) {
        return switch (dtype) {
            case F64 -> "float64";
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> throw new IllegalArgumentException("weights must be floating point, got " + dtype);
        };
    }
}
