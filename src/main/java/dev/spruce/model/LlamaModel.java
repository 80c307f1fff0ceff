package dev.spruce.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import dev.spruce.io.InvalidModelException;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A LLaMA model on DJL's PyTorch engine and its one forward pass: token embedding, RMSNorm, rotary
 * attention with grouped key/value heads, SwiGLU MLP, final norm and LM head. Layers may have their own
 * widths (pruned models); a layer with no heads or no MLP channels skips that sub-block. LoRA adapters
 * and masks enter through {@link ForwardHooks}.
 *
 * <p>The model owns its weights on its own manager. Every activation of a forward pass lives on the
 * caller's step manager, which the caller closes after backward (this also keeps P1 scalars alive).
 */
public final class LlamaModel implements AutoCloseable {
    /** Additive attention mask value: finite, so no softmax row can turn into NaN. */
    private static final double MASKED = -1e9;

    private final LlamaConfig config;
    private final DataType dataType;
    private final NDManager manager;
    private final Map<String, NDArray> weights;
    private final DeviceTables tables;
    private final boolean ownsWeights;

    private LlamaModel(LlamaConfig config, DataType dataType, NDManager manager, Map<String, NDArray> weights,
                       DeviceTables tables, boolean ownsWeights) {
        this.config = config;
        this.dataType = dataType;
        this.manager = manager;
        this.weights = weights;
        this.tables = tables;
        this.ownsWeights = ownsWeights;
    }

    /**
     * Loads every weight the config calls for from {@code source}, converted to {@code dataType} on
     * {@code device}. Missing tensors and wrong shapes are errors naming the tensor.
     */
    public static LlamaModel load(LlamaConfig config, WeightSource source, DataType dataType, Device device) {
        return load(config, source, dataType, device, MAX_PIECE_BYTES);
    }

    /** Float32 bytes read into one buffer at most: a power of two under the 2 GiB a ByteBuffer holds. */
    static final long MAX_PIECE_BYTES = 1L << 30;

    /** {@link #load}, reading weights larger than {@code pieceBytes} in pieces (tests use small pieces). */
    static LlamaModel load(LlamaConfig config, WeightSource source, DataType dataType, Device device,
                           long pieceBytes) {
        TorchNatives.prepare();
        NDManager manager = NDManager.newBaseManager(device);
        Map<String, NDArray> weights = new LinkedHashMap<>();
        Map<String, long[]> shapes = TensorNames.expectedShapes(config);
        DecodeBuffer scratch = new DecodeBuffer(shapes.values(), pieceBytes);
        try {
            Djl.checkDataType(dataType, manager);
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                String name = e.getKey();
                if (!source.contains(name)) {
                    throw new InvalidModelException("weights: tensor '" + name + "' is missing (the config "
                            + "calls for shape " + Arrays.toString(e.getValue()) + ")");
                }
                long[] actual = source.shape(name);
                if (actual != null && !Arrays.equals(actual, e.getValue())) {
                    throw new InvalidModelException("weights: tensor '" + name + "' has shape "
                            + Arrays.toString(actual) + ", the config calls for " + Arrays.toString(e.getValue()));
                }
                Shape shape = new Shape(e.getValue());
                NDArray a = dataType == DataType.FLOAT64
                        ? Djl.ownedByLibtorch(manager.create(source.readDouble(name), shape))
                        : readFloats(manager, source, name, shape, dataType, scratch);
                a.setName(name);
                weights.put(name, a);
            }
        } catch (RuntimeException ex) {
            manager.close();
            throw ex;
        }
        return new LlamaModel(config, dataType, manager, weights,
                new DeviceTables(manager, Rope.inverseFrequencies(config)), true);
    }

    /**
     * One weight as float32 decoded straight into a direct buffer, then copied into memory libtorch owns in
     * {@code dataType}: no tensor-sized Java array, and no buffer left for the garbage collector (P5). A weight larger
     * than the buffer (a ByteBuffer holds at most 2 GiB: Llama-3-70B's embedding is 4.2 GB in float32) is read in
     * pieces of whole rows, each copied into its rows of the tensor. The result never shares memory with {@code
     * scratch}, which the next read overwrites.
     */
    private static NDArray readFloats(NDManager manager, WeightSource source, String name, Shape shape,
                                      DataType dataType, DecodeBuffer scratch) {
        long[] dims = shape.getShape();
        long rows = DecodeBuffer.rows(dims);
        long rowElements = DecodeBuffer.rowElements(dims);
        long piece = rowElements == 0 ? rows : scratch.rowsPerPiece(rowElements);
        if (piece >= rows) {
            NDArray a = scratch.read(manager, source, name, 0, shape, dataType);
            // A float32 array wraps the buffer it was made from; any other type is already a converted copy.
            return dataType == DataType.FLOAT32 ? Djl.ownedByLibtorch(a) : a;
        }
        NDArray whole = manager.zeros(shape, dataType);
        for (long row = 0; row < rows; row += piece) {
            long n = Math.min(piece, rows - row);
            try (NDArray part = scratch.read(manager, source, name, row * rowElements, new Shape(n, rowElements),
                    dataType)) {
                whole.set(new NDIndex("{}:{}", row, row + n), part);
            }
        }
        return whole;
    }

    /**
     * The one direct buffer a load decodes every float32 weight into, sized for the largest weight up to {@code
     * pieceBytes} (in whole rows). A fresh buffer per weight was garbage as soon as libtorch held its copy, but freed
     * only at the next GC, so a load held up to {@code MaxDirectMemorySize} of dead buffers beside the model (peak RSS
     * about 3x a 1.86 GB model).
     */
    private static final class DecodeBuffer {
        private final long pieceBytes;
        private final int capacity;
        private java.nio.ByteBuffer buffer;

        DecodeBuffer(java.util.Collection<long[]> shapes, long pieceBytes) {
            this.pieceBytes = pieceBytes;
            long largest = 0;
            for (long[] shape : shapes) {
                long rowElements = rowElements(shape);
                if (rowElements > 0) {
                    largest = Math.max(largest, Math.min(rows(shape), rowsPerPiece(rowElements)) * rowElements
                            * Float.BYTES);
                }
            }
            this.capacity = Math.toIntExact(largest);
        }

        /** Rows of a weight: its first axis; a vector is one row. */
        static long rows(long[] shape) {
            return shape.length == 1 ? 1 : shape[0];
        }

        /** Elements per row; 0 for a weight with no rows. */
        static long rowElements(long[] shape) {
            long rows = rows(shape);
            return rows == 0 ? 0 : Arrays.stream(shape).reduce(1, Math::multiplyExact) / rows;
        }

        /** Rows of this many elements per piece: as many as fit, at least one. */
        long rowsPerPiece(long rowElements) {
            return Math.max(1, pieceBytes / (rowElements * Float.BYTES));
        }

        /** Elements from {@code first} of the tensor, {@code shape} of them, as an array of {@code dataType}. */
        NDArray read(NDManager manager, WeightSource source, String name, long first, Shape shape, DataType dataType) {
            int bytes = Math.toIntExact(shape.size() * Float.BYTES);
            if (buffer == null) {
                buffer = manager.allocateDirect(capacity);
            }
            java.nio.ByteBuffer view = buffer.slice(0, bytes).order(java.nio.ByteOrder.nativeOrder());
            source.readFloat(name, first, view.asFloatBuffer());
            return Djl.fromFloats(manager, view, shape, dataType);
        }
    }

    /**
     * A view of this model in which the named weights are fresh autograd leaves that share storage with
     * the originals (torch {@code detach}), owned by {@code step}. Gradients accumulate on the view's
     * leaves only, so concurrent tasks sharing one cached model never mix their gradients (P3), and the
     * shared weights never require gradients. Closing the view frees nothing of the model.
     */
    public LlamaModel leafView(NDManager step, java.util.Collection<String> trainable) {
        Map<String, NDArray> leaves = new LinkedHashMap<>();
        for (String name : trainable) {
            NDArray leaf = weight(name).stopGradient();
            leaf.attach(step);
            leaf.setRequiresGradient(true);
            leaves.put(name, leaf);
        }
        return withWeights(leaves);
    }

    /**
     * A view of this model whose named weights are replaced by the given arrays (same shape and data type,
     * owned by the caller); every other weight is shared. The view owns nothing: closing it frees nothing,
     * and it must not outlive the replacements' manager. Trainers use it to run the forward with current
     * parameter values as autograd leaves.
     */
    public LlamaModel withWeights(Map<String, NDArray> replacements) {
        Map<String, NDArray> view = new LinkedHashMap<>(weights);
        for (Map.Entry<String, NDArray> e : replacements.entrySet()) {
            NDArray current = weight(e.getKey());
            NDArray replacement = e.getValue();
            if (!current.getShape().equals(replacement.getShape()) || current.getDataType() != replacement.getDataType()) {
                throw new IllegalArgumentException("replacement for tensor '" + e.getKey() + "' is "
                        + replacement.getDataType() + replacement.getShape() + ", the model holds "
                        + current.getDataType() + current.getShape());
            }
            view.put(e.getKey(), replacement);
        }
        return new LlamaModel(config, dataType, manager, view, tables, false);
    }

    public LlamaConfig config() {
        return config;
    }

    public DataType dataType() {
        return dataType;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** The device tables, shared by this model and its views. */
    DeviceTables tables() {
        return tables;
    }

    /** The model's own manager; arrays that must live as long as the model (adapters) may use it. */
    public NDManager manager() {
        return manager;
    }

    /** A weight by Hugging Face name. */
    public NDArray weight(String name) {
        NDArray w = weights.get(name);
        if (w == null) {
            throw new IllegalArgumentException("model has no tensor '" + name + "'");
        }
        return w;
    }

    /** All weights by Hugging Face name, in {@link TensorNames#expectedShapes} order. */
    public Map<String, NDArray> weights() {
        return Collections.unmodifiableMap(weights);
    }

    /** Logits [batch, time, vocab] on {@code step}. */
    public NDArray logits(NDManager step, TokenBatch batch, ForwardHooks hooks) {
        return forward(step, batch, hooks, null);
    }

    /**
     * The logits of the positions that predict a next token, [batch, time-1, vocab]: {@link #logits} without its
     * last position, with the LM head run on those positions only. What the next-token losses score. Slicing the
     * full logits instead costs more than it seems: DJL slices every axis, and in the backward pass each slice
     * writes a zeroed vocabulary-wide copy of the gradient. A batch of one position gives {@link #logits}.
     */
    public NDArray nextTokenLogits(NDManager step, TokenBatch batch, ForwardHooks hooks) {
        if (batch.length() < 2) {
            return logits(step, batch, hooks);
        }
        return head(step, Djl.withoutLastPosition(hiddenStates(step, batch, hooks, null)), hooks);
    }

    /**
     * The forward pass. With a {@link KvCache}, {@code batch} holds only the new tokens; their keys and
     * values are appended to the cache.
     */
    public NDArray forward(NDManager step, TokenBatch batch, ForwardHooks hooks, KvCache cache) {
        return head(step, hiddenStates(step, batch, hooks, cache), hooks);
    }

    /** What {@link #logitsByRows} hands over: the logits [rows, time, vocab] of rows from .. from + rows - 1. */
    @FunctionalInterface
    public interface RowLogits {
        void accept(int from, NDArray logits);
    }

    /**
     * {@link #logits} for scoring without gradient, handed over {@code rowsPerGroup} rows at a time, each group's
     * arrays freed before the next: the decoder runs once for the whole batch, the final norm and the LM head per
     * group. Vocabulary-wide arrays of a whole batch are too large for the C allocator to keep (above 32 MB it maps
     * fresh memory for each and every page then faults in); a group's stay small enough to be reused.
     */
    public void logitsByRows(NDManager step, TokenBatch batch, ForwardHooks hooks, int rowsPerGroup,
                             RowLogits perGroup) {
        if (rowsPerGroup < 1) {
            throw new IllegalArgumentException("rowsPerGroup must be at least 1, got " + rowsPerGroup);
        }
        NDArray h = hiddenStates(step, batch, hooks, null);
        int rows = batch.batchSize();
        for (int from = 0; from < rows; from += rowsPerGroup) {
            int to = Math.min(rows, from + rowsPerGroup);
            try (NDManager group = step.newSubManager()) {
                NDArray part = rows == to - from ? h : h.get(new NDIndex("{}:{}", from, to));
                part.tempAttach(group);
                perGroup.accept(from, head(group, part, hooks));
            }
        }
    }

    /** The final RMSNorm and the LM head over hidden states [batch, positions, hidden]. */
    private NDArray head(NDManager step, NDArray h, ForwardHooks hooks) {
        NDArray normMask = hooks.hiddenNormOverKept() ? hooks.hiddenMask() : null;
        NDArray normed = rmsNorm(step, h, weight(TensorNames.FINAL_NORM), normMask);
        String head = config.tieWordEmbeddings() ? TensorNames.EMBED : TensorNames.LM_HEAD;
        return single(Linear.linear(normed, weight(head)));
    }

    /** The residual stream after the last decoder layer, [batch, time, hidden]. */
    private NDArray hiddenStates(NDManager step, TokenBatch batch, ForwardHooks hooks, KvCache cache) {
        int b = batch.batchSize();
        int t = batch.length();
        int past = cache == null ? 0 : cache.length();
        int total = past + t;
        int hd = config.headDim();

        int[][] positions = new int[b][t];
        int[][] keyMask = new int[b][total];
        for (int r = 0; r < b; r++) {
            int seen = cache == null ? 0 : cache.realTokens[r];
            if (cache != null) {
                System.arraycopy(cache.keyMask[r], 0, keyMask[r], 0, past);
            }
            for (int s = 0; s < t; s++) {
                boolean real = batch.isReal(r, s);
                if (real) {
                    seen++;
                }
                positions[r][s] = Math.max(seen - 1, 0);
                keyMask[r][past + s] = real ? 1 : 0;
            }
            if (cache != null) {
                cache.realTokens[r] = seen;
            }
        }
        if (cache != null) {
            cache.keyMask = keyMask;
        }

        NDArray[] rope = rotaryTables(step, positions);
        NDArray cos = rope[0];
        NDArray sin = rope[1];
        NDArray attentionBias = attentionBias(step, keyMask, past, t);
        NDArray scale = tables.constant(1.0 / Math.sqrt(hd), attentionDataType());

        long[] flatIds = new long[b * t];
        for (int r = 0; r < b; r++) {
            for (int s = 0; s < t; s++) {
                flatIds[r * t + s] = batch.ids()[r][s];
            }
        }
        NDArray ids = step.create(flatIds, new Shape(b, t));
        NDArray hiddenMask = hooks.hiddenMask();
        // the mask still scales the residual stream; only the norm's divisor depends on the rule
        NDArray normMask = hooks.hiddenNormOverKept() ? hiddenMask : null;
        NDArray h = single(Embedding.embedding(ids, weight(TensorNames.EMBED), SparseFormat.DENSE));
        h.attach(step);
        if (hiddenMask != null) {
            h = h.mul(hiddenMask);
        }

        for (int l = 0; l < config.numHiddenLayers(); l++) {
            if (config.layerHeads(l) > 0) {
                NDArray x = rmsNorm(step, h, weight(TensorNames.layer(l, TensorNames.INPUT_NORM)), normMask);
                NDArray out = attention(step, l, x, cos, sin, attentionBias, scale, hooks, cache);
                h = h.add(maskOutput(step, out, hooks.attentionLayerMask(l), hiddenMask));
            }
            if (config.layerIntermediate(l) > 0) {
                NDArray x = rmsNorm(step, h, weight(TensorNames.layer(l, TensorNames.POST_NORM)), normMask);
                NDArray out = mlp(step, l, x, hooks);
                h = h.add(maskOutput(step, out, hooks.mlpLayerMask(l), hiddenMask));
            }
        }
        if (cache != null) {
            cache.length = total;
        }
        return h;
    }

    private NDArray attention(NDManager step, int l, NDArray x, NDArray cos, NDArray sin, NDArray bias,
                              NDArray scale, ForwardHooks hooks, KvCache cache) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int heads = config.layerHeads(l);
        int kvHeads = config.layerKvHeads(l);
        int rep = heads / kvHeads;
        int hd = config.headDim();

        // [B, T, kv, rep, hd] -> [B, kv, rep, T, hd]: query head g*rep+j shares key/value head g.
        NDArray q = linear(l, TensorNames.Q, x, hooks).reshape(b, t, kvHeads, rep, hd).transpose(0, 2, 3, 1, 4);
        NDArray k = linear(l, TensorNames.K, x, hooks).reshape(b, t, kvHeads, 1, hd).transpose(0, 2, 3, 1, 4);
        NDArray v = linear(l, TensorNames.V, x, hooks).reshape(b, t, kvHeads, 1, hd).transpose(0, 2, 3, 1, 4);
        q = rotate(q, cos, sin);
        k = rotate(k, cos, sin);
        if (cache != null) {
            if (cache.keys[l] != null) {
                k = cache.keys[l].concat(k, 3);
                v = cache.values[l].concat(v, 3);
            }
            cache.keys[l] = k;
            cache.values[l] = v;
        }
        NDArray scores = q.matMul(k.transpose(0, 1, 2, 4, 3));
        scores = Djl.cast(scores, attentionDataType());
        NDArray probabilities = Djl.cast(scores.mul(scale).add(bias).softmax(-1), dataType);
        NDArray context = probabilities.matMul(v).transpose(0, 3, 1, 2, 4); // [B, T, kv, rep, hd]
        NDArray headMask = hooks.headMask(l);
        if (headMask != null) {
            context = context.mul(onStep(step, headMask.reshape(1, 1, kvHeads, rep, 1)));
        }
        return linear(l, TensorNames.O, context.reshape(b, t, (long) heads * hd), hooks);
    }

    private NDArray mlp(NDManager step, int l, NDArray x, ForwardHooks hooks) {
        NDArray gate = linear(l, TensorNames.GATE, x, hooks);
        NDArray up = linear(l, TensorNames.UP, x, hooks);
        NDArray activation = gate.mul(Activation.sigmoid(gate)).mul(up);
        NDArray mlpMask = hooks.mlpMask(l);
        if (mlpMask != null) {
            activation = activation.mul(mlpMask);
        }
        return linear(l, TensorNames.DOWN, activation, hooks);
    }

    private NDArray linear(int layer, String suffix, NDArray input, ForwardHooks hooks) {
        String name = TensorNames.layer(layer, suffix);
        NDArray out = single(Linear.linear(input, weight(name)));
        return hooks.adaptLinear(name, input, out);
    }

    private static NDArray maskOutput(NDManager step, NDArray out, NDArray blockMask, NDArray hiddenMask) {
        if (blockMask != null) {
            out = out.mul(blockMask);
        }
        if (hiddenMask != null) {
            out = out.mul(hiddenMask);
        }
        return out;
    }

    /** HF rotary embedding: {@code q*cos + rotate_half(q)*sin}, rotate_half(u) = [-u2, u1]. */
    private static NDArray rotate(NDArray u, NDArray cos, NDArray sin) {
        int last = u.getShape().dimension() - 1;
        NDList halves = u.split(2, last);
        NDArray rotated = halves.get(1).neg().concat(halves.get(0), last);
        return u.mul(cos).add(rotated.mul(sin));
    }

    /**
     * RMSNorm computed in at least float32: x / sqrt(mean(x^2) + eps) * weight. With {@code keptMask} the
     * mean runs over its mass, so a binary mask equals slicing the channels away; null is the plain mean
     * over the full width ({@link ForwardHooks#hiddenNormOverKept()}).
     */
    private NDArray rmsNorm(NDManager step, NDArray x, NDArray weight, NDArray keptMask) {
        DataType normType = dataType == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        NDArray xf = Djl.cast(x, normType);
        NDArray squares = xf.mul(xf);
        NDArray meanSquare;
        if (keptMask == null) {
            meanSquare = squares.mean(new int[] {-1}, true);
        } else {
            NDArray kept = Djl.cast(onStep(step, keptMask.sum()), normType);
            meanSquare = squares.sum(new int[] {-1}, true).div(kept);
        }
        NDArray eps = tables.constant(config.rmsNormEps(), normType);
        NDArray normed = Djl.cast(xf.div(meanSquare.add(eps).sqrt()), dataType);
        return normed.mul(weight);
    }

    /**
     * cos and sin [B or 1, 1, 1, T, head_dim] at the given positions, gathered on the device from the model's
     * cached tables. When every row has the same consecutive positions (no padding) the index is an arange made
     * on the device; otherwise the positions (token-derived integers, like the ids) are copied over.
     */
    private NDArray[] rotaryTables(NDManager step, int[][] positions) {
        int b = positions.length;
        int t = positions[0].length;
        int max = 0;
        boolean shared = true;
        for (int r = 0; r < b; r++) {
            for (int s = 0; s < t; s++) {
                max = Math.max(max, positions[r][s]);
                shared &= positions[r][s] == positions[0][0] + s;
            }
        }
        NDArray[] table = tables.rope(max, dataType);
        NDArray index;
        int rows;
        if (shared) {
            index = step.arange(positions[0][0], positions[0][0] + t, 1, DataType.INT64);
            rows = 1;
        } else {
            long[] flat = new long[b * t];
            for (int r = 0; r < b; r++) {
                for (int s = 0; s < t; s++) {
                    flat[r * t + s] = positions[r][s];
                }
            }
            index = step.create(flat, new Shape((long) b * t));
            rows = b;
        }
        int hd = config.headDim();
        NDArray cos = single(Embedding.embedding(index, table[0], SparseFormat.DENSE)).reshape(rows, 1, 1, t, hd);
        NDArray sin = single(Embedding.embedding(index, table[1], SparseFormat.DENSE)).reshape(rows, 1, 1, t, hd);
        return new NDArray[] {onStep(step, cos), onStep(step, sin)};
    }

    /**
     * [B or 1, 1, 1, T, S] additive bias: 0 where query t may see key s (causal and real), else {@link #MASKED}.
     * A padding query sees only itself: defined, finite, and never a later token. The causal part is the
     * model's cached table; the padding part is combined on the device from the key mask (token-derived
     * integers), which is copied over only when some key is padding.
     */
    private NDArray attentionBias(NDManager step, int[][] keyMask, int past, int t) {
        int b = keyMask.length;
        int total = past + t;
        NDArray[] causal = tables.causal(step, t, total, attentionDataType(), MASKED);
        int[] flat = new int[b * total];
        boolean padded = false;
        for (int r = 0; r < b; r++) {
            for (int key = 0; key < total; key++) {
                flat[r * total + key] = keyMask[r][key] != 0 ? 1 : 0;
                padded |= keyMask[r][key] == 0;
            }
        }
        if (!padded) {
            return causal[0];
        }
        NDArray real = step.create(flat, new Shape(b, 1, 1, 1, total));
        NDArray masked = tables.constant(MASKED, attentionDataType());
        // A padding key adds MASKED; the maximum keeps MASKED where causal and padding both mask.
        NDArray visible = real.eq(tables.constant(0, DataType.INT32)).toType(attentionDataType(), false)
                .mul(masked).add(causal[0]).maximum(masked);
        // DJL's where does not broadcast: pick per query row by 0/1 weights, which is exact (M * 0 = -0.0).
        NDArray query = real.get(new NDIndex(":, :, :, :, " + past + ":")).reshape(b, 1, 1, t, 1);
        NDArray realQuery = query.neq(tables.constant(0, DataType.INT32)).toType(attentionDataType(), false);
        NDArray paddingQuery = query.eq(tables.constant(0, DataType.INT32)).toType(attentionDataType(), false);
        return visible.mul(realQuery).add(paddingQuery.mul(causal[1]));
    }

    /** Attention scores and softmax run in float32 when the model computes in half precision. */
    private DataType attentionDataType() {
        return dataType == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    }

    private static NDArray onStep(NDManager step, NDArray a) {
        a.attach(step);
        return a;
    }

    private static NDArray single(NDList list) {
        return list.singletonOrThrow();
    }

    /** Total parameters held (equals {@link LlamaConfig#parameterCount()} for a consistent model). */
    public long parameterCount() {
        long n = 0;
        for (NDArray w : weights.values()) {
            n += w.size();
        }
        return n;
    }

    @Override
    public void close() {
        if (ownsWeights) {
            tables.close();
            manager.close();
        }
    }

    /** Keys and values of earlier positions, for incremental decoding. Arrays live on the caller's manager. */
    public static final class KvCache {
        private final NDArray[] keys;
        private final NDArray[] values;
        private int[][] keyMask;
        private final int[] realTokens;
        private int length;

        public KvCache(LlamaConfig config, int batchSize) {
            keys = new NDArray[config.numHiddenLayers()];
            values = new NDArray[config.numHiddenLayers()];
            keyMask = new int[batchSize][0];
            realTokens = new int[batchSize];
        }

        /** Positions cached so far. */
        public int length() {
            return length;
        }

        /** Moves the cached arrays onto {@code owner}, so the step manager that made them may close. */
        public void retain(NDManager owner) {
            for (int l = 0; l < keys.length; l++) {
                if (keys[l] != null) {
                    keys[l].attach(owner);
                    values[l].attach(owner);
                }
            }
        }
    }
}
