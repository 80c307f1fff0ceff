package dev.spruce.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import dev.spruce.model.LlamaConfig;

/**
 * Evaluation on one executor: the model and per concurrent task one batch of {@code batchTokens} padded tokens in
 * sequences of up to {@code longest} tokens, forward only (no gradients, but DJL keeps every array of the batch
 * until its manager closes), and its logits with their log-softmax.
 *
 * @param longest the longest scored sequence: the largest perplexity seq-len, or the multiple-choice max-length
 */
public record EvaluationPlan(LlamaConfig config, String dtype, int batchTokens, int longest) implements StagePlan {

    public EvaluationPlan {
        if (batchTokens < 1 || longest < 1) {
            throw new IllegalArgumentException("evaluate.batch-tokens and the sequence length must be >= 1, got "
                    + batchTokens + " and " + longest);
        }
    }

    @Override
    public String stage() {
        return "evaluate";
    }

    @Override
    public String describe() {
        return "dtype " + dtype + ", batch-tokens " + batchTokens + ", longest sequence " + longest;
    }

    @Override
    public Estimate estimate(ExecutorShape shape) {
        Precision p = Precision.of(dtype, shape.gpu(), "evaluate.dtype");
        int k = shape.tasks();
        long t = Math.min(batchTokens, longest);
        long b = Math.max(1, batchTokens / t);
        Activations a = new Activations(config, p);
        List<Term> terms = new ArrayList<>();
        terms.add(Plans.weights(config, p));
        terms.add(new Term("activations", Term.Part.TENSORS, k * a.forward(b, t, 0),
                "tasks x forward(B = " + b + ", T = " + t + ")"));
        terms.add(new Term("logits", Term.Part.TENSORS, k * b * t * a.logits(), "tasks x B x T x vocab x (c + n [+ n])"));
        terms.add(Plans.runtime(shape));
        terms.add(Plans.loadBuffer(config, p));
        return new Estimate(stage(), terms, k);
    }

    public EvaluationPlan withBatchTokens(int tokens) {
        return new EvaluationPlan(config, dtype, tokens, longest);
    }

    @Override
    public List<Alternative> alternatives(ExecutorShape shape, Predicate<StagePlan> fits) {
        List<Alternative> out = new ArrayList<>();
        // Batches hold whole sequences: the candidates are multiples of the sequence length (or, below one
        // sequence, any shorter budget).
        long t = Math.min(batchTokens, longest);
        int sequences = (int) (batchTokens / t);
        if (sequences > 1) {
            int m = StagePlan.largestFitting(sequences, v -> fits.test(withBatchTokens((int) (v * t))));
            if (m > 0) {
                out.add(new Alternative("evaluate.batch-tokens = " + m * t, withBatchTokens((int) (m * t))));
            }
        } else if (batchTokens > 1) {
            int m = StagePlan.largestFitting(batchTokens, v -> fits.test(withBatchTokens(v)));
            if (m > 0) {
                out.add(new Alternative("evaluate.batch-tokens = " + m, withBatchTokens(m)));
            }
        }
        for (String lower : Plans.lowerDtypes(dtype, shape.gpu())) {
            out.add(new Alternative("evaluate.dtype = " + lower, new EvaluationPlan(config, lower, batchTokens, longest)));
        }
        return out;
    }
}
