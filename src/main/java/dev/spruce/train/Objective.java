package dev.spruce.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.DistillationLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TokenBatch;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.ModelRef;
import java.io.Serializable;

/**
 * What a training step minimises: a sum over the micro-batch's predicted tokens, which the driver divides by the
 * global token count, so any split of a step's samples over tasks and micro-batches gives the same step.
 * Shipped to executors with each task.
 */
public interface Objective extends Serializable {
    /** The summed loss of one micro-batch, a scalar on {@code step}, differentiable in the student's logits. */
    NDArray sum(NDManager step, NDArray logits, TokenBatch batch);

    /** A short name for logs and run.json. */
    String label();

    /** The causal-LM negative log-likelihood (LoRA recovery on instructions, pre-training). */
    static Objective languageModel() {
        return new LanguageModel();
    }

    /** The LM loss: summed next-token NLL. */
    record LanguageModel() implements Objective {
        @Override
        public NDArray sum(NDManager step, NDArray logits, TokenBatch batch) {
            return CausalLmLoss.sum(step, logits, batch);
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
            if (!(temperature > 0) || Double.isInfinite(temperature)) {
                throw new IllegalArgumentException("recover.distill.temperature must be a positive number, got "
                        + temperature);
            }
            if (!(lmWeight >= 0 && lmWeight <= 1)) {
                throw new IllegalArgumentException("recover.distill.lm-weight must be in [0, 1], got " + lmWeight);
            }
        }

        @Override
        public NDArray sum(NDManager step, NDArray logits, TokenBatch batch) {
            LlamaModel model = ExecutorModels.get(teacher);
            NDArray teacherLogits;
            try (Djl.GradScope off = Djl.gradScope(false)) {
                teacherLogits = model.logits(step, batch, ForwardHooks.NONE);
            }
            NDArray kd = DistillationLoss.sum(step, logits, teacherLogits, batch, temperature);
            if (lmWeight == 0) {
                return kd;
            }
            NDArray lm = CausalLmLoss.sum(step, logits, batch);
            return kd.mul(Djl.scalarLike(kd, 1 - lmWeight)).add(lm.mul(Djl.scalarLike(lm, lmWeight)));
        }

        @Override
        public String label() {
            return "distill";
        }
    }
}
