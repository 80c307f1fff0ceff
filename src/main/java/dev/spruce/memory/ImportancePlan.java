package dev.spruce.memory;

import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.LayerRange;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * The importance stage on one executor: the resident model, and per concurrent task the gradients of the scored
 * members, the sums G (and Q), one micro-batch's forward and backward, the host copies of one member's partial
 * sum and the streamed blocks. Weight-only criteria (random, l1, l2) run nothing on executors.
 *
 * @param criterion    the reference name: random, l1, l2, vectorize, param_first, param_second, param_mix
 * @param microBatch   calibration.micro-batch (param_second and param_mix run one sample at a time regardless)
 * @param length       tokens per calibration sample
 * @param hiddenChannels prune.channel-wise: every weight is a member
 */
public record ImportancePlan(LlamaConfig config, String dtype, String criterion, int microBatch, int length,
                             LayerRange attentionLayers, LayerRange mlpLayers, boolean hiddenChannels,
                             int blockElements) implements StagePlan {

    public ImportancePlan {
        criterion = criterion.trim().toLowerCase(Locale.ROOT);
        if (!List.of("random", "l1", "l2", "vectorize", "param_first", "param_second", "param_mix").contains(criterion)) {
            throw new IllegalArgumentException("importance.criterion = '" + criterion + "': expected random, l1, l2, "
                    + "vectorize, param_first, param_second or param_mix");
        }
        if (microBatch < 1) {
            throw new IllegalArgumentException("calibration.micro-batch must be >= 1, got " + microBatch);
        }
    }

    boolean taylor() {
        return !List.of("random", "l1", "l2").contains(criterion);
    }

    boolean fisher() {
        return criterion.equals("param_second") || criterion.equals("param_mix");
    }

    @Override
    public String stage() {
        return "importance";
    }

    @Override
    public String describe() {
        return "dtype " + dtype + ", criterion " + criterion + ", micro-batch " + microBatch
                + (fisher() ? " (runs 1 sample at a time)" : "") + ", length " + length;
    }

    /** Weights of the scored members (the tensors whose gradients are taken) and the largest of them. */
    long[] scored() {
        long total = 0;
        long largest = 0;
        long d = config.hiddenSize();
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            long q = (long) config.layerHeads(l) * config.headDim();
            long kv = (long) config.layerKvHeads(l) * config.headDim();
            long i = config.layerIntermediate(l);
            if (hiddenChannels || attentionLayers.contains(l)) {
                total += 2 * d * q + 2 * d * kv;
                largest = Math.max(largest, d * q);
            }
            if (hiddenChannels || mlpLayers.contains(l)) {
                total += 3 * d * i;
                largest = Math.max(largest, d * i);
            }
        }
        if (hiddenChannels) {
            long embed = (long) config.vocabSize() * d;
            total += embed * (config.tieWordEmbeddings() ? 1 : 2);
            largest = Math.max(largest, embed);
        }
        return new long[] {total, largest};
    }

    @Override
    public Estimate estimate(ExecutorShape shape) {
        Precision p = Precision.of(dtype, shape.gpu(), "importance dtype (model.dtype)");
        List<Term> terms = new ArrayList<>();
        if (!taylor()) {
            return new Estimate(stage(), terms, shape.tasks()); // magnitudes are read on the driver
        }
        int k = shape.tasks();
        long c = p.bytes();
        long n = p.wide();
        long[] w = scored();
        long b = fisher() ? 1 : microBatch;
        long t = length;
        Activations a = new Activations(config, p);
        terms.add(Plans.weights(config, p));
        // G alone in the model's own float type accumulates in the leaves' .grad (no second copy); half precision
        // and the Fisher criteria keep explicit float32/64 sums, and widen (and square) one tensor at a time.
        boolean inLeaves = !fisher() && !p.half();
        terms.add(new Term(inLeaves ? "gradients of scored members (= G)" : "gradients of scored members",
                Term.Part.TENSORS, k * w[0] * c, "tasks x W_s x c (W_s = " + w[0] + ")"));
        if (!inLeaves) {
            terms.add(new Term(fisher() ? "sums G and Q" : "sum G", Term.Part.TENSORS,
                    k * w[0] * n * (fisher() ? 2 : 1), "tasks x W_s x n x " + (fisher() ? 2 : 1)));
            long copies = (p.half() ? 1 : 0) + (fisher() ? 1 : 0);
            terms.add(new Term("per-step wide copies" + (fisher() ? " and g*g" : ""), Term.Part.TENSORS,
                    k * w[1] * n * copies, "tasks x largest member x n x " + copies));
        }
        terms.add(new Term("activations", Term.Part.TENSORS, k * a.forward(b, t, 0),
                "tasks x forward(B = " + b + ", T = " + t + ")"));
        terms.add(new Term("logits", Term.Part.TENSORS, k * b * t * a.logits(), "tasks x B x T x vocab x (c + n [+ n])"));
        terms.add(new Term("backward working set", Term.Part.TENSORS, k * b * t * (a.logitsGradient()
                + a.largestLayer(t)), "tasks x B x T x (vocab x (n + c) + largest layer)"));
        terms.add(Plans.runtime(shape));
        terms.add(new Term("host block copies", Term.Part.HEAP, k * blockElements * 8L * (fisher() ? 4 : 3),
                "tasks x block-elements x 8 x " + (fisher() ? 4 : 3) + " (w, G" + (fisher() ? ", Q" : "")
                        + ", partial)"));
        terms.add(new Term("streamed blocks", Term.Part.HEAP, k * 2L * blockElements * (n == 8 ? 8 : 4),
                "tasks x 2 x block-elements x " + (n == 8 ? 8 : 4) + " (float32 unless the model is float64)"));
        terms.add(Plans.loadBuffer(config, p));
        return new Estimate(stage(), terms, k);
    }

    @Override
    public List<Alternative> alternatives(ExecutorShape shape, Predicate<StagePlan> fits) {
        List<Alternative> out = new ArrayList<>();
        if (!fisher() && microBatch > 1) {
            int m = StagePlan.largestFitting(microBatch, v -> fits.test(withMicroBatch(v)));
            if (m > 0) {
                out.add(new Alternative("calibration.micro-batch = " + m, withMicroBatch(m)));
            }
        }
        for (String lower : Plans.lowerDtypes(dtype, shape.gpu())) {
            out.add(new Alternative("model.dtype = " + lower, new ImportancePlan(config, lower, criterion, microBatch,
                    length, attentionLayers, mlpLayers, hiddenChannels, blockElements)));
        }
        List<String> cheaper = fisher() ? List.of("param_first", "vectorize", "l2")
                : criterion.equals("param_first") ? List.of("vectorize", "l2") : List.of("l2");
        for (String cr : cheaper) {
            out.add(new Alternative("importance.criterion = " + cr, new ImportancePlan(config, dtype, cr, microBatch,
                    length, attentionLayers, mlpLayers, hiddenChannels, blockElements)));
        }
        return out;
    }

    public ImportancePlan withMicroBatch(int m) {
        return new ImportancePlan(config, dtype, criterion, m, length, attentionLayers, mlpLayers, hiddenChannels,
                blockElements);
    }
}
