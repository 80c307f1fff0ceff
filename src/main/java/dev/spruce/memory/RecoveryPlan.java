package dev.spruce.memory;

import dev.spruce.model.LlamaConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Recovery on one executor: the frozen model, per concurrent task the trainable parameters as autograd leaves and
 * their gradients, one micro-batch's forward (with LoRA's arrays) and backward, and on the heap the broadcast
 * parameter values and the per-task gradient sums (float64); with a resident teacher also its weights, its
 * forward and its logits.
 *
 * @param teacher    the resident distillation teacher, or null (LM loss, or top-k targets precomputed)
 * @param full       recover.trainable = full (every weight is trained)
 * @param length     tokens per sample: recover.cutoff for instructions, recover.data.window for text
 */
public record RecoveryPlan(LlamaConfig config, LlamaConfig teacher, String dtype, boolean full, int rank,
                           List<String> targets, double dropout, int microBatch, int length) implements StagePlan {

    public RecoveryPlan {
        targets = List.copyOf(targets);
        if (microBatch < 1) {
            throw new IllegalArgumentException("recover.train.micro-batch must be >= 1, got " + microBatch);
        }
    }

    @Override
    public String stage() {
        return "recover";
    }

    @Override
    public String describe() {
        return "dtype " + dtype + ", " + (full ? "full" : "lora rank " + rank + " on " + targets.size() + " modules")
                + ", micro-batch " + microBatch + ", length " + length + (teacher == null ? "" : ", resident teacher");
    }

    /** LoRA parameters r x (in + out) over the targeted modules, and per token the arrays the hooks add. */
    long[] lora(Precision p) {
        long params = 0;
        long perToken = 0;
        long widestInput = 0;
        long d = config.hiddenSize();
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            long q = (long) config.layerHeads(l) * config.headDim();
            long kv = (long) config.layerKvHeads(l) * config.headDim();
            long i = config.layerIntermediate(l);
            for (String m : targets) {
                long[] io = switch (m) {
                    case "q_proj" -> new long[] {d, q};
                    case "k_proj", "v_proj" -> new long[] {d, kv};
                    case "o_proj" -> new long[] {q, d};
                    case "gate_proj", "up_proj" -> new long[] {d, i};
                    case "down_proj" -> new long[] {i, d};
                    default -> new long[] {0, 0};
                };
                if (io[0] == 0 || io[1] == 0) {
                    continue;
                }
                params += rank * (io[0] + io[1]);
                // dropout mask and x·mask (training with dropout), x·A, (x·A)·B, its scaling and the sum with W x
                perToken += p.bytes() * ((dropout > 0 ? 2 * io[0] : 0) + rank + 3 * io[1]);
                widestInput = Math.max(widestInput, io[0]);
            }
        }
        return new long[] {params, perToken, widestInput};
    }

    @Override
    public Estimate estimate(ExecutorShape shape) {
        Precision p = Precision.of(dtype, shape.gpu(), "recover.dtype");
        int k = shape.tasks();
        long c = p.bytes();
        long b = microBatch;
        long t = length;
        Activations a = new Activations(config, p);
        long[] lora = full ? new long[] {config.parameterCount(), 0, 0} : lora(p);
        long trained = lora[0];
        List<Term> terms = new ArrayList<>();
        terms.add(Plans.weights(config, p));
        // LoRA leaves are float32 whatever the compute type (float64 for float64 models); full training trains the
        // weights in the compute type.
        long leaf = full ? c : p.wide();
        String leafBytes = full ? "c" : "n";
        terms.add(new Term(full ? "trainable copy of every weight" : "LoRA parameters", Term.Part.TENSORS,
                k * trained * leaf, "tasks x " + (full ? "P" : "L") + " x " + leafBytes + " (" + (full ? "P" : "L")
                        + " = " + trained + ")"));
        terms.add(new Term(full ? "gradients of every weight" : "LoRA gradients", Term.Part.TENSORS,
                k * trained * leaf, "tasks x " + (full ? "P" : "L") + " x " + leafBytes));
        terms.add(new Term("activations", Term.Part.TENSORS, k * a.forward(b, t, lora[1]),
                "tasks x forward(B = " + b + ", T = " + t + ")" + (full ? "" : " with LoRA arrays")));
        terms.add(new Term("logits", Term.Part.TENSORS, k * b * t * a.logits(), "tasks x B x T x vocab x (c + n [+ n])"));
        terms.add(new Term("backward working set", Term.Part.TENSORS, k * b * t * (a.logitsGradient()
                + a.largestLayer(t)), "tasks x B x T x (vocab x (n + c) + largest layer)"));
        if (teacher != null) {
            Activations ta = new Activations(teacher, p);
            terms.add(new Term("teacher weights", Term.Part.TENSORS, teacher.parameterCount() * c,
                    "P_teacher x c (P_teacher = " + teacher.parameterCount() + ")"));
            terms.add(new Term("teacher forward and logits", Term.Part.TENSORS,
                    k * (ta.forward(b, t, 0) + b * t * ta.logits() + b * t * (long) config.vocabSize() * p.wide()),
                    "tasks x (forward(B, T) + B x T x vocab x (c + 2n [+ n]))"));
        }
        terms.add(Plans.runtime(shape));
        long traffic = p.wide() == 8 ? 8 : 4; // float32 traffic unless the model is float64 (train.Traffic)
        terms.add(new Term("broadcast parameter values", Term.Part.HEAP, trained * traffic,
                (full ? "P" : "L") + " x " + traffic));
        terms.add(new Term("gradient sums", Term.Part.HEAP, k * trained * 8, "tasks x " + (full ? "P" : "L")
                + " x 8 (float64 within a task)"));
        if (!full && dropout > 0) {
            // lora.DropoutMask: an int64 counter hash on a GPU (the value and one temporary), a Java mask on the CPU.
            terms.add(shape.gpu()
                    ? new Term("dropout hash (int64)", Term.Part.TENSORS, k * b * t * lora[2] * 16,
                            "tasks x B x T x widest input x 2 x 8")
                    : new Term("dropout mask (host)", Term.Part.HEAP, k * b * t * lora[2] * 8,
                            "tasks x B x T x widest input x 8"));
        }
        terms.add(Plans.loadBuffer(config, p));
        return new Estimate(stage(), terms, k);
    }

    @Override
    public List<Alternative> alternatives(ExecutorShape shape, Predicate<StagePlan> fits) {
        List<Alternative> out = new ArrayList<>();
        if (microBatch > 1) {
            int m = StagePlan.largestFitting(microBatch, v -> fits.test(withMicroBatch(v)));
            if (m > 0) {
                out.add(new Alternative("recover.train.micro-batch = " + m, withMicroBatch(m)));
            }
        }
        for (String lower : Plans.lowerDtypes(dtype, shape.gpu())) {
            out.add(new Alternative("recover.dtype = " + lower,
                    new RecoveryPlan(config, teacher, lower, full, rank, targets, dropout, microBatch, length)));
        }
        if (teacher != null) {
            out.add(new Alternative("recover.distill.teacher-source = top-k",
                    new RecoveryPlan(config, null, dtype, full, rank, targets, dropout, microBatch, length)));
        }
        if (full) {
            out.add(new Alternative("recover.trainable = lora", new RecoveryPlan(config, teacher, dtype, false, 8,
                    List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), dropout,
                    microBatch, length)));
        }
        return out;
    }

    public RecoveryPlan withMicroBatch(int m) {
        return new RecoveryPlan(config, teacher, dtype, full, rank, targets, dropout, m, length);
    }
}
