package dev.spruce.prune;

import dev.spruce.importance.ImportanceScoresJson;
import dev.spruce.io.AtomicDirectory;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.safetensors.ElementScaling;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.model.safetensors.ShardedWriter;
import dev.spruce.model.safetensors.TensorInfo;
import dev.spruce.model.safetensors.TensorSpec;
import dev.spruce.scope.InvalidPlanException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a {@link PrunePlan} to a model directory in Hugging Face layout, writing the pruned model in the same
 * layout (llm-pruner.md §3: kept rows and columns stay in their original order, nothing is merged).
 *
 * <p>Tensors are streamed one at a time from the source shards to the output shards, so memory holds one
 * tensor, never the model. Slicing works on the stored bytes: each tensor keeps its dtype and every kept value
 * is bit-identical to the source, whatever the dtype (F64, F32, F16, BF16), with no float round trip. A plan's
 * {@link Folding} then multiplies the few tensors it touches by per-row and per-column factors (decoded, multiplied
 * in double, re-encoded in the same dtype); every other tensor is still copied byte for byte.
 */
public final class PlanApplier {
    public static final String PLAN_FILE = "plan.json";
    public static final String SCORES_FILE = "scores.json";
    private static final Logger LOG = LoggerFactory.getLogger(PlanApplier.class);

    private PlanApplier() {}

    /**
     * Writes the pruned model to {@code outputDir}: weights, config.json ({@link PrunePlan#prunedConfig()} with
     * the source's {@code torch_dtype}), the source's tokenizer files, {@code plan.json} and, when the options
     * carry scores, {@code scores.json}. The directory appears complete or not at all; the source is only read.
     */
    public static void apply(Path sourceModelDir, PrunePlan plan, Path outputDir, ApplyOptions options) {
        requireSeparate(sourceModelDir, outputDir);
        LlamaConfig modelConfig = LlamaConfig.read(sourceModelDir);
        requireFits(plan, modelConfig, new Path(sourceModelDir, "config.json"));
        LlamaConfig prunedConfig = plan.prunedConfig().toBuilder().torchDtype(modelConfig.torchDtype()).build();
        long started = System.nanoTime();
        try (SafetensorsModel source = SafetensorsModel.open(sourceModelDir)) {
            Map<String, KeptIndices> kept = tensorsToWrite(plan, source);
            try (AtomicDirectory out = new AtomicDirectory(outputDir, options.overwrite())) {
                writeWeights(source, kept, plan, out.dir(), options.maxShardBytes());
                prunedConfig.write(out.dir());
                ModelFiles.copyTokenizer(sourceModelDir, out.dir());
                plan.write(out.resolve(PLAN_FILE));
                if (options.scores() != null) {
                    ImportanceScoresJson.write(out.resolve(SCORES_FILE), options.scores());
                }
                out.commit();
            }
        }
        LOG.info("apply: wrote {} ({} -> {} parameters) in {} ms", outputDir, plan.paramsBefore(),
                plan.paramsAfter(), (System.nanoTime() - started) / 1_000_000);
    }

    /**
     * What the plan keeps of each tensor of the source model (llm-pruner.md §1.2), checking first that the source
     * holds every tensor the plan's source configuration calls for, with that shape. Ordered as the output is
     * written: embeddings, layers, final norm, LM head.
     */
    private static Map<String, KeptIndices> tensorsToWrite(PrunePlan plan, SafetensorsModel source) {
        Map<String, long[]> expected = TensorNames.expectedShapes(plan.sourceConfig());
        // a layer whose attention or MLP is removed whole has no such tensors in the pruned model
        Map<String, long[]> output = TensorNames.expectedShapes(plan.prunedConfig());
        Map<String, KeptIndices> kept = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String name = e.getKey();
            if (!source.contains(name)) {
                throw new InvalidModelException(source.dir() + ": tensor '" + name + "' is missing (config.json "
                        + "calls for shape " + Arrays.toString(e.getValue()) + "); cannot apply the plan");
            }
            long[] actual = source.info(name).shape();
            if (!Arrays.equals(actual, e.getValue())) {
                throw new InvalidModelException(source.dir() + ": tensor '" + name + "' in " + source.shardOf(name)
                        + " has shape " + Arrays.toString(actual) + ", config.json calls for "
                        + Arrays.toString(e.getValue()) + "; cannot apply the plan");
            }
            if (output.containsKey(name)) {
                KeptIndices k = keptIndices(plan, name);
                if (!Arrays.equals(k.shapeAfter(actual), output.get(name))) {
                    throw new IllegalStateException("plan keeps " + Arrays.toString(k.shapeAfter(actual)) + " of '"
                            + name + "' but its pruned config calls for " + Arrays.toString(output.get(name)));
                }
                kept.put(name, k);
            }
        }
        List<String> dropped = source.names().stream().filter(n -> !expected.containsKey(n)).toList();
        if (!dropped.isEmpty()) {
            LOG.warn("apply: {} tensors of {} are not LLaMA weights and are not written: {}", dropped.size(),
                    source.dir(), dropped);
        }
        return kept;
    }

    /**
     * What {@code plan} keeps of tensor {@code name} (an HF weight name of the plan's source model). Attention
     * keeps the q rows and o columns of the kept query heads and the k/v rows of the kept kv groups; the MLP
     * keeps gate/up rows and down columns of the kept channels; channel-wise, the kept hidden channels are
     * embedding and LM head columns, every RMSNorm entry, q/k/v/gate/up columns and o/down rows.
     */
    public static KeptIndices keptIndices(PrunePlan plan, String name) {
        LlamaConfig c = plan.sourceConfig();
        int[] hidden = subsetOrAll(plan.keptHidden(), c.hiddenSize());
        int l = TensorNames.layerOf(name);
        if (l < 0) {
            return switch (name) {
                case TensorNames.EMBED, TensorNames.LM_HEAD -> new KeptIndices(null, hidden);
                case TensorNames.FINAL_NORM -> new KeptIndices(hidden, null);
                default -> throw new IllegalArgumentException("no pruning rule for tensor '" + name + "'");
            };
        }
        LayerPlan layer = plan.layer(l);
        int[] queryChannels = subsetOrAll(headChannels(layer.keptHeads(), c.headDim()), c.layerHeads(l) * c.headDim());
        int[] kvChannels = subsetOrAll(headChannels(layer.keptKvGroups(), c.headDim()),
                c.layerKvHeads(l) * c.headDim());
        int[] mlpChannels = subsetOrAll(layer.keptChannels(), c.layerIntermediate(l));
        return switch (TensorNames.suffixOf(name)) {
            case TensorNames.Q -> new KeptIndices(queryChannels, hidden);
            case TensorNames.K, TensorNames.V -> new KeptIndices(kvChannels, hidden);
            case TensorNames.O -> new KeptIndices(hidden, queryChannels);
            case TensorNames.GATE, TensorNames.UP -> new KeptIndices(mlpChannels, hidden);
            case TensorNames.DOWN -> new KeptIndices(hidden, mlpChannels);
            case TensorNames.INPUT_NORM, TensorNames.POST_NORM -> new KeptIndices(hidden, null);
            default -> throw new IllegalArgumentException("no pruning rule for tensor '" + name + "'");
        };
    }

    /** The channels of whole heads: head k covers {@code k*headDim .. k*headDim+headDim-1}. */
    private static int[] headChannels(int[] heads, int headDim) {
        int[] channels = new int[heads.length * headDim];
        for (int i = 0; i < channels.length; i++) {
            channels[i] = heads[i / headDim] * headDim + i % headDim;
        }
        return channels;
    }

    /** Null (keep all) when the ascending distinct indices cover all {@code n}, so the tensor is copied as is. */
    private static int[] subsetOrAll(int[] kept, int n) {
        return kept.length == n ? null : kept;
    }

    /**
     * The factors {@code plan}'s folding multiplies into the kept part of tensor {@code name}: {rows, columns},
     * indexed like the sliced tensor, null where nothing is folded; null when the tensor is not touched.
     * RMSNorm weights take sqrt(divisor / d_kept), the divisor being what the masked model's norm divided the sum
     * of squares by: d for the full-width norm, the kept hidden mass otherwise (d_kept for a binary mask).
     */
    static double[][] foldFactors(PrunePlan plan, String name) {
        Folding f = plan.folding();
        if (f == null) {
            return null;
        }
        LlamaConfig c = plan.sourceConfig();
        int[] hiddenKept = plan.keptHidden();
        double[] hidden = f.hiddenAt(hiddenKept);
        int l = TensorNames.layerOf(name);
        String kind = l < 0 ? name : TensorNames.suffixOf(name);
        double[][] factors = switch (kind) {
            case TensorNames.EMBED -> new double[][] {null, hidden};
            case TensorNames.FINAL_NORM, TensorNames.INPUT_NORM, TensorNames.POST_NORM -> {
                double divisor = f.hiddenNorm() == HiddenNorm.FULL_WIDTH ? c.hiddenSize()
                        : hidden == null ? hiddenKept.length : sum(hidden);
                double factor = Math.sqrt(divisor / hiddenKept.length);
                yield factor == 1 ? null : new double[][] {constant(hiddenKept.length, factor), null};
            }
            case TensorNames.O -> new double[][] {hidden,
                    perChannel(f.headsAt(l, plan.layer(l).keptHeads()), c.headDim())};
            case TensorNames.DOWN -> new double[][] {hidden, f.channelsAt(l, plan.layer(l).keptChannels())};
            default -> null; // q/k/v/gate/up read the normed stream, the LM head the final norm: nothing to fold
        };
        return factors == null || (factors[0] == null && factors[1] == null) ? null : factors;
    }

    /** Each head's value repeated over its head_dim channels. */
    private static double[] perChannel(double[] perHead, int headDim) {
        if (perHead == null) {
            return null;
        }
        double[] out = new double[perHead.length * headDim];
        for (int i = 0; i < out.length; i++) {
            out[i] = perHead[i / headDim];
        }
        return out;
    }

    private static double[] constant(int n, double v) {
        double[] a = new double[n];
        Arrays.fill(a, v);
        return a;
    }

    private static double sum(double[] a) {
        double s = 0;
        for (double v : a) {
            s += v;
        }
        return s;
    }

    private static void writeWeights(SafetensorsModel source, Map<String, KeptIndices> kept, PrunePlan plan,
                                     Path dir, long maxShardBytes) {
        List<TensorSpec> specs = new ArrayList<>();
        kept.forEach((name, k) -> {
            TensorInfo info = source.info(name);
            specs.add(new TensorSpec(name, info.dtype(), k.shapeAfter(info.shape())));
        });
        ShardedWriter writer = ShardedWriter.create(dir, specs, maxShardBytes, Map.of());
        try {
            int i = 0;
            for (TensorSpec spec : specs) {
                KeptIndices k = kept.get(spec.name());
                TensorInfo info = source.info(spec.name());
                byte[] raw = source.readRaw(spec.name());
                byte[] out = k.keepsAll() ? raw
                        : slice(raw, info.dtype().byteSize(), info.shape(), k.rows(), k.columns());
                double[][] factors = foldFactors(plan, spec.name());
                if (factors != null) {
                    ElementScaling.multiply(info.dtype(), out, spec.shape(), factors[0], factors[1]);
                }
                writer.writeRaw(spec.name(), out);
                LOG.info("apply: tensor {}/{} {} {} {} -> {}{}", ++i, specs.size(), spec.name(), info.dtype(),
                        Arrays.toString(info.shape()), k.keepsAll() ? "copied" : Arrays.toString(spec.shape()),
                        factors == null ? "" : " (mask values folded)");
            }
        } catch (RuntimeException e) {
            writer.abort();
            throw e;
        }
        writer.close();
    }

    /**
     * Keeps rows {@code keptRows} and columns {@code keptColumns} (ascending; null keeps all) of a row-major
     * tensor of {@code shape} ([rows] or [rows, columns]) stored as {@code elementBytes}-byte elements. Pure:
     * the result is a new array, in the kept indices' order.
     */
    public static byte[] slice(byte[] data, int elementBytes, long[] shape, int[] keptRows, int[] keptColumns) {
        if (shape.length != 1 && shape.length != 2) {
            throw new IllegalArgumentException("can slice tensors of 1 or 2 dimensions, got shape "
                    + Arrays.toString(shape));
        }
        if (shape.length == 1 && keptColumns != null) {
            throw new IllegalArgumentException("a tensor of shape " + Arrays.toString(shape) + " has no columns");
        }
        int rows = Math.toIntExact(shape[0]);
        int columns = shape.length == 2 ? Math.toIntExact(shape[1]) : 1;
        if ((long) rows * columns * elementBytes != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + elementBytes
                    + "-byte elements needs " + (long) rows * columns * elementBytes + " bytes, got " + data.length);
        }
        int[] rowIndices = keptRows == null ? UnitOrder.all(rows) : requireAscending(keptRows, rows, "row");
        int[][] runs = runs(keptColumns == null ? UnitOrder.all(columns) : requireAscending(keptColumns, columns,
                "column"));
        int keptColumnCount = keptColumns == null ? columns : keptColumns.length;
        int rowBytes = columns * elementBytes;
        byte[] out = new byte[Math.toIntExact((long) rowIndices.length * keptColumnCount * elementBytes)];
        int at = 0;
        for (int r : rowIndices) {
            for (int[] run : runs) {
                int length = run[1] * elementBytes;
                System.arraycopy(data, r * rowBytes + run[0] * elementBytes, out, at, length);
                at += length;
            }
        }
        return out;
    }

    /** Consecutive indices as {start, length} runs, so contiguous kept columns copy in one call. */
    private static int[][] runs(int[] indices) {
        List<int[]> runs = new ArrayList<>();
        for (int i = 0; i < indices.length; ) {
            int j = i + 1;
            while (j < indices.length && indices[j] == indices[j - 1] + 1) {
                j++;
            }
            runs.add(new int[] {indices[i], j - i});
            i = j;
        }
        return runs.toArray(new int[0][]);
    }

    private static int[] requireAscending(int[] indices, int n, String what) {
        for (int i = 0; i < indices.length; i++) {
            if (indices[i] < 0 || indices[i] >= n || (i > 0 && indices[i] <= indices[i - 1])) {
                throw new IllegalArgumentException("kept " + what + " indices must be ascending and within [0, " + n
                        + "), got " + Arrays.toString(indices));
            }
        }
        return indices;
    }

    // ---------------------------------------------------------------- validation

    private record Field(String name, Object planned, Object actual) {}

    /** Fails unless {@code config.json} describes the model the plan was made for. */
    private static void requireFits(PrunePlan plan, LlamaConfig model, Path configFile) {
        LlamaConfig p = plan.sourceConfig();
        List<String> differences = Stream.of(
                        new Field("hidden_size", p.hiddenSize(), model.hiddenSize()),
                        new Field("num_hidden_layers", p.numHiddenLayers(), model.numHiddenLayers()),
                        new Field("head_dim", p.headDim(), model.headDim()),
                        new Field("vocab_size", p.vocabSize(), model.vocabSize()),
                        new Field("tie_word_embeddings", p.tieWordEmbeddings(), model.tieWordEmbeddings()),
                        new Field("num_attention_heads", widths(p.layerHeads()), widths(model.layerHeads())),
                        new Field("num_key_value_heads", widths(p.layerKvHeads()), widths(model.layerKvHeads())),
                        new Field("intermediate_size", widths(p.layerIntermediate()),
                                widths(model.layerIntermediate())))
                .filter(f -> !f.planned().equals(f.actual()))
                .map(f -> f.name() + " " + f.planned() + " but " + configFile + " has " + f.actual())
                .toList();
        if (!differences.isEmpty()) {
            throw new InvalidPlanException("the plan does not fit the model: the plan was made for "
                    + String.join("; ", differences) + ". Apply a plan to the model it was planned on");
        }
    }

    /** One number for a uniform model, the per-layer list otherwise. */
    private static String widths(int[] perLayer) {
        return Arrays.stream(perLayer).distinct().count() <= 1 && perLayer.length > 0
                ? Integer.toString(perLayer[0]) : Arrays.toString(perLayer) + " per layer";
    }

    /** Refuses an output that is, contains or lies inside the source: writing it would modify the input. */
    private static void requireSeparate(Path source, Path output) {
        String s = qualified(source);
        String o = qualified(output);
        if (s.equals(o) || o.startsWith(s + "/") || s.startsWith(o + "/")) {
            throw new IllegalArgumentException("output " + output + " overlaps the source model directory "
                    + source + "; the source is never modified, choose a separate output directory");
        }
    }

    private static String qualified(Path p) {
        String uri = Fs.fs(p).makeQualified(p).toUri().normalize().toString();
        return uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
    }
}
