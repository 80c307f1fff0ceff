package dev.spruce.compresso;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.train.GradientStep;
import dev.spruce.train.LoraTrainable;
import dev.spruce.train.ParameterGroup;
import dev.spruce.train.Trainable;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What Compresso learns on the frozen base: LoRA adapters, one logit vector per mask ({@link MaskLayout}) and the
 * two Lagrange multipliers (which the driver alone differentiates, {@link LagrangianTerm}). While training, every
 * task of a step draws the same hard-concrete sample, its noise seeded by (run seed, step, mask vector), so the
 * whole global batch shares one z and any partitioning computes the same gradients. Validation uses the
 * deterministic masks. Before pruning starts (the pre-pruning phase) the forward is plain LoRA.
 */
public final class CompressoTrainable implements Trainable {
    private static final long serialVersionUID = 1L;

    private final LoraTrainable lora;
    private final MaskLayout layout;

    public CompressoTrainable(LlamaConfig config, CompressoSettings settings) {
        this.lora = new LoraTrainable(config, settings.lora());
        this.layout = new MaskLayout(config, settings);
    }

    public MaskLayout layout() {
        return layout;
    }

    public LoraTrainable lora() {
        return lora;
    }

    @Override
    public Map<String, long[]> shapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>(lora.shapes());
        layout.masks().forEach((name, n) -> shapes.put(name, new long[] {n}));
        shapes.put(MaskLayout.LAMBDA_1, new long[] {1});
        shapes.put(MaskLayout.LAMBDA_2, new long[] {1});
        return shapes;
    }

    @Override
    public Map<String, double[]> initialValues(long seed) {
        Map<String, double[]> values = new LinkedHashMap<>(lora.initialValues(seed));
        values.putAll(layout.initialLogits(seed));
        values.put(MaskLayout.LAMBDA_1, new double[1]);
        values.put(MaskLayout.LAMBDA_2, new double[1]);
        return values;
    }

    @Override
    public DataType parameterType(DataType computeType) {
        return lora.parameterType(computeType);
    }

    /** Masks: their own constant rate, no decay, no clipping; multipliers: the same rate by ascent. */
    @Override
    public ParameterGroup group(String name) {
        CompressoSettings s = layout.settings();
        long first = s.prePruningSteps() + 1;
        if (MaskLayout.isMultiplier(name)) {
            return new ParameterGroup("lagrangian", s.regLearningRate(), false, 0, false, true, first);
        }
        if (MaskLayout.isMask(name)) {
            return new ParameterGroup("masks", s.regLearningRate(), false, 0, false, false, first);
        }
        return ParameterGroup.MAIN;
    }

    /** Without a step: the deterministic masks of the given logits (evaluation of a finished run). */
    @Override
    public Binding bind(LlamaModel base, NDManager step, Map<String, NDArray> leaves, long[] rowSeeds) {
        if (rowSeeds != null) {
            throw new IllegalArgumentException("Compresso training needs the step: its mask sample depends on it");
        }
        return bind(base, step, leaves, null, new Context(Long.MAX_VALUE, 0, false));
    }

    @Override
    public Binding bind(LlamaModel base, NDManager step, Map<String, NDArray> leaves, long[] rowSeeds,
                        Context context) {
        Map<String, NDArray> adapters = new LinkedHashMap<>();
        for (String name : lora.shapes().keySet()) {
            adapters.put(name, leaves.get(name));
        }
        ForwardHooks loraHooks = lora.bind(base, step, adapters, rowSeeds).hooks();
        if (!layout.settings().masksAt(context.step())) {
            return new Binding(base, loraHooks); // pre-pruning: plain LoRA, the logits take no part
        }
        return new Binding(base, masks(base, step, leaves, loraHooks, context));
    }

    private ForwardHooks masks(LlamaModel base, NDManager step, Map<String, NDArray> leaves, ForwardHooks loraHooks,
                               Context context) {
        HardConcrete hc = layout.settings().hardConcrete();
        LlamaConfig c = layout.config();
        Map<Integer, NDArray> heads = new HashMap<>();
        Map<Integer, NDArray> ffn = new HashMap<>();
        NDArray hidden = null;
        for (String name : layout.names()) {
            NDArray logits = leaves.get(name);
            NDArray z = context.training()
                    ? sample(step, hc, logits, noiseSeed(context, layout.index(name)))
                    : deterministic(step, layout, name, logits);
            z = Djl.cast(z, base.dataType());
            int l = MaskLayout.headsLayer(name);
            if (name.equals(MaskLayout.HIDDEN)) {
                hidden = z;
            } else if (l >= 0) {
                long kv = c.layerKvHeads(l);
                long rep = c.groupSize(l);
                heads.put(l, z.reshape(kv, 1).broadcast(new Shape(kv, rep)).reshape(kv * rep));
            } else {
                ffn.put(MaskLayout.ffnLayer(name), z);
            }
        }
        return ForwardHooks.adaptersWithMasks(loraHooks, new MaskHooks(heads, ffn, hidden));
    }

    /** The seed of mask vector {@code index}'s noise at a training step: the same on every task. */
    static long noiseSeed(Context context, int index) {
        return GradientStep.rowSeed(context.seed() ^ 0x636F_6D70_7265_7373L, index, context.step());
    }

    /** z = clamp(sigmoid((noise + log_alpha) / beta) · (r - l) + l, 0, 1), differentiable in log_alpha. */
    private static NDArray sample(NDManager step, HardConcrete hc, NDArray logits, long seed) {
        DataType type = logits.getDataType();
        double[] noise = HardConcrete.noise(seed, Math.toIntExact(logits.size()));
        NDArray u = type == DataType.FLOAT64 ? step.create(noise)
                : step.create(toFloats(noise)).toType(type, false);
        NDArray s = Activation.sigmoid(logits.add(u).div(Djl.scalar(step, hc.beta(), type)));
        NDArray stretched = s.mul(Djl.scalar(step, HardConcrete.LIMIT_RIGHT - HardConcrete.LIMIT_LEFT, type))
                .add(Djl.scalar(step, HardConcrete.LIMIT_LEFT, type));
        return stretched.maximum(Djl.scalar(step, 0, type)).minimum(Djl.scalar(step, 1, type));
    }

    /** The values the pruned model will compute with ({@link MaskDecisions}), so validation measures that model. */
    private static NDArray deterministic(NDManager step, MaskLayout layout, String name, NDArray logits) {
        double[] z = MaskDecisions.valuesOf(layout, name, Djl.toDoubles(logits));
        DataType type = logits.getDataType();
        return type == DataType.FLOAT64 ? step.create(z) : step.create(toFloats(z)).toType(type, false);
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }
}
