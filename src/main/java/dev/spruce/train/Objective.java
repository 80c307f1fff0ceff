package dev.spruce.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.spruce.data.TokenSample;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.DistillationLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TokenBatch;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.ModelRef;
import java.io.Serializable;
import java.util.List;

/**
 * What a training step minimises: a sum over the micro-batch's predicted tokens, which the driver divides by the
 * global token count, so any split of a step's samples over tasks and micro-batches gives the same step.
 * Shipped to executors with each task.
 */
public interface Objective extends Serializable {
    /**
     * The summed loss of one micro-batch, a scalar on {@code step}, differentiable in the student's logits;
     * {@code rows} are the batch's samples in row order.
     */
    NDArray sum(NDManager step, NDArray logits, TokenBatch batch, List<TokenSample> rows);

    /** The student's logits that {@link #sum} scores: all positions, [batch, time, vocab], unless overridden. */
    default NDArray logits(LlamaModel student, NDManager step, TokenBatch batch, ForwardHooks hooks) {
        return student.logits(step, batch, hooks);
    }

    /** A short name for logs and run.json. */
    String label();

    /** The causal-LM negative log-likelihood (LoRA recovery on instructions, pre-training). */
    static Objective languageModel() {
        return new LanguageModel();
    }

    /** The LM loss: summed next-token NLL. */
    record LanguageModel() implements Objective {
        @Override
        public NDArray sum(NDManager step, NDArray logits, TokenBatch batch, List<TokenSample> rows) {
            return CausalLmLoss.sum(step, logits, batch);
        }

        /** Only the positions the loss scores: the LM head skips the last one. */
        @Override
        public NDArray logits(LlamaModel student, NDManager step, TokenBatch batch, ForwardHooks hooks) {
            return student.nextTokenLogits(step, batch, hooks);
        }

        @Override
        public String label() {
            return "lm";
        }
    }

    /**
     * Knowledge distillation from a teacher resident on every executor beside the student (the unpruned model in
     * a pipeline): {@code (1 - lmWeight)·τ²·KL(teacher || student) + lmWeight·NLL}, per predicted token. The
     * teacher runs forward only, without hooks and without gradient, on the same tokens as the student.
     */
    record Distillation(ModelRef teacher, double temperature, double lmWeight) implements Objective {
        public Distillation {
            checkMix(temperature, lmWeight);
        }

        @Override
        public NDArray sum(NDManager step, NDArray logits, TokenBatch batch, List<TokenSample> rows) {
            LlamaModel model = ExecutorModels.get(teacher);
            NDArray teacherLogits;
            try (Djl.GradScope off = Djl.gradScope(false)) {
                teacherLogits = model.logits(step, batch, ForwardHooks.NONE);
            }
            return mix(step, DistillationLoss.sum(step, logits, teacherLogits, batch, temperature), logits, batch,
                    lmWeight);
        }

        @Override
        public String label() {
            return "distill";
        }
    }

    private static void checkMix(double temperature, double lmWeight) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("recover.distill.temperature must be a positive number, got "
                    + temperature);
        }
        if (!(lmWeight >= 0 && lmWeight <= 1)) {
            throw new IllegalArgumentException("recover.distill.lm-weight must be in [0, 1], got " + lmWeight);
        }
    }

    /** {@code (1 - lmWeight)·kd + lmWeight·NLL}. */
    private static NDArray mix(NDManager step, NDArray kd, NDArray logits, TokenBatch batch, double lmWeight) {
        if (lmWeight == 0) {
            return kd;
        }
        NDArray lm = CausalLmLoss.sum(step, logits, batch);
        return kd.mul(Djl.scalarLike(kd, 1 - lmWeight)).add(lm.mul(Djl.scalarLike(lm, lmWeight)));
    }

    /**
     * Distillation from the teacher's top-k targets precomputed into every sample ({@link TeacherTopK}): the
     * teacher's distribution restricted to its k most likely tokens and renormalised; no teacher on the executors
     * while training. Same loss form as {@link Distillation}, exactly equal to it when k is the vocabulary.
     */
    record TopKDistillation(int k, double temperature, double lmWeight) implements Objective {
        public TopKDistillation {
            checkMix(temperature, lmWeight);
            if (k < 1) {
                throw new IllegalArgumentException("recover.distill.top-k must be at least 1, got " + k);
            }
        }

        @Override
        public NDArray sum(NDManager step, NDArray logits, TokenBatch batch, List<TokenSample> rows) {
            int t = batch.length();
            int positions = rows.size() * Math.max(0, t - 1);
            long[] tokens = new long[positions * k];
            double[] logProbs = new double[positions * k];
            double[] scored = new double[positions];
            for (int r = 0; r < rows.size(); r++) {
                TokenSample sample = rows.get(r);
                int n = DistillationLoss.scoredPositions(sample.getTokens().length, sample.getPromptLength());
                int[] ids = sample.getTeacherTokens();
                float[] lp = sample.getTeacherLogProbs();
                if (ids == null || lp == null || ids.length != n * k || lp.length != n * k) {
                    throw new IllegalStateException("sample " + sample.getId() + " has no top-" + k + " teacher targets "
                            + "for its " + n + " scored positions (precompute them with TeacherTopK)");
                }
                for (int j = 0; j < n; j++) {
                    int position = DistillationLoss.scoredPosition(r, t, sample.getPromptLength(), j);
                    scored[position] = 1;
                    for (int i = 0; i < k; i++) {
                        tokens[position * k + i] = ids[j * k + i];
                        logProbs[position * k + i] = lp[j * k + i];
                    }
                }
            }
            return mix(step, DistillationLoss.topKRowSums(step, logits, tokens, logProbs, scored, k, temperature).sum(),
                    logits, batch, lmWeight);
        }

        @Override
        public String label() {
            return "distill-top-k";
        }
    }
}
