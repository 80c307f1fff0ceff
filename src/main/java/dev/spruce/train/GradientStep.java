package dev.spruce.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.spruce.data.Batches;
import dev.spruce.data.TokenSample;
import dev.spruce.model.Djl;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TokenBatch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One task's share of a step, on its executor's cached frozen model: micro-batches of the task's samples,
 * forward with the current parameter values as autograd leaves, backward of the summed {@link Objective}, and
 * gradients added up on the host in double. Each micro-batch lives on its own manager, closed once its
 * gradients are on the host. Dropout seeds depend only on (seed, sample id, step), so the result does not
 * depend on how samples are spread over tasks and micro-batches.
 */
public final class GradientStep {
    private GradientStep() {}

    /**
     * Gradient sums, summed NLL and counts over {@code samples}.
     *
     * @param values current parameter values in {@link Trainable#shapes()} order
     * @param step   the 1-based optimizer step (seeds dropout)
     */
    public static StepTotals gradients(LlamaModel base, Trainable trainable, double[][] values,
                                       List<TokenSample> samples, long step, long seed, int microBatch, int padId) {
        return gradients(base, trainable, Objective.languageModel(), values, samples, step, seed, microBatch, padId);
    }

    /** Gradient sums of {@code objective}, its summed value and counts over {@code samples}. */
    public static StepTotals gradients(LlamaModel base, Trainable trainable, Objective objective, double[][] values,
                                       List<TokenSample> samples, long step, long seed, int microBatch, int padId) {
        return gradients(base, trainable, objective, ParameterValues.of(values), samples, step, seed, microBatch,
                padId);
    }

    /** The same, from the values as a task receives them (float32 or float64). */
    static StepTotals gradients(LlamaModel base, Trainable trainable, Objective objective, ParameterValues values,
                                List<TokenSample> samples, long step, long seed, int microBatch, int padId) {
        return run(base, trainable, objective, values, samples, step, seed, microBatch, padId, true);
    }

    /** Summed NLL and counts over {@code samples}, forward only, without dropout. */
    public static StepTotals loss(LlamaModel base, Trainable trainable, double[][] values, List<TokenSample> samples,
                                  int microBatch, int padId) {
        return loss(base, trainable, Objective.languageModel(), values, samples, microBatch, padId);
    }

    /** The summed {@code objective} and counts over {@code samples}, forward only, without dropout. */
    public static StepTotals loss(LlamaModel base, Trainable trainable, Objective objective, double[][] values,
                                  List<TokenSample> samples, int microBatch, int padId) {
        return loss(base, trainable, objective, ParameterValues.of(values), samples, microBatch, padId);
    }

    /** The same, from the values as a task receives them (float32 or float64). */
    static StepTotals loss(LlamaModel base, Trainable trainable, Objective objective, ParameterValues values,
                           List<TokenSample> samples, int microBatch, int padId) {
        return loss(base, trainable, objective, values, samples, 0, 0, microBatch, padId);
    }

    /** The same after {@code stepsApplied} optimizer steps of a run seeded {@code seed}. */
    static StepTotals loss(LlamaModel base, Trainable trainable, Objective objective, ParameterValues values,
                           List<TokenSample> samples, long stepsApplied, long seed, int microBatch, int padId) {
        return run(base, trainable, objective, values, samples, stepsApplied, seed, microBatch, padId, false);
    }

    /** The dropout seed of a sample at a step: a SplitMix64 mix, so nearby ids and steps share nothing. */
    public static long rowSeed(long seed, long sampleId, long step) {
        return mix(mix(mix(seed) ^ sampleId) ^ step);
    }

    private static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static StepTotals run(LlamaModel base, Trainable trainable, Objective objective, ParameterValues values,
                                  List<TokenSample> samples, long step, long seed, int microBatch, int padId,
                                  boolean training) {
        long started = System.nanoTime();
        Map<String, long[]> shapes = trainable.shapes();
        List<String> names = new ArrayList<>(shapes.keySet());
        if (values.count() != names.size()) {
            throw new IllegalArgumentException("got " + values.count() + " parameter arrays for " + names.size()
                    + " parameters");
        }
        double[][] gradients = training ? new double[names.size()][] : null;
        double loss = 0;
        long tokens = 0;
        for (int from = 0; from < samples.size(); from += microBatch) {
            List<TokenSample> chunk = samples.subList(from, Math.min(samples.size(), from + microBatch));
            TokenBatch batch = Batches.pack(chunk, padId);
            long predicted = 0;
            for (long n : batch.predictedTokens()) {
                predicted += n;
            }
            if (predicted == 0) {
                continue; // nothing to predict: no loss and no gradient (and no graph to differentiate)
            }
            long[] rowSeeds = null;
            if (training) {
                rowSeeds = new long[chunk.size()];
                for (int r = 0; r < rowSeeds.length; r++) {
                    rowSeeds[r] = rowSeed(seed, chunk.get(r).getId(), step);
                }
            }
            loss += microBatch(base, trainable, objective, names, shapes, values, chunk, batch, rowSeeds,
                    new Trainable.Context(step, seed, training), gradients);
            tokens += predicted;
        }
        if (training) {
            for (int p = 0; p < gradients.length; p++) {
                if (gradients[p] == null) {
                    gradients[p] = new double[values.length(p)];
                }
            }
        }
        return new StepTotals(gradients, loss, tokens, samples.size(), (System.nanoTime() - started) / 1e9);
    }

    /** Runs one micro-batch, adds its gradients into {@code gradients} (when training) and returns its NLL. */
    private static double microBatch(LlamaModel base, Trainable trainable, Objective objective, List<String> names,
                                     Map<String, long[]> shapes, ParameterValues values, List<TokenSample> rows,
                                     TokenBatch batch, long[] rowSeeds, Trainable.Context context,
                                     double[][] gradients) {
        boolean training = gradients != null;
        try (NDManager step = base.manager().newSubManager();
             AutoCloseable grad = Djl.gradScope(training)) {
            Map<String, NDArray> leaves = new LinkedHashMap<>();
            for (int p = 0; p < names.size(); p++) {
                NDArray leaf = values.array(step, p, new Shape(shapes.get(names.get(p))),
                        trainable.parameterType(base.dataType()));
                if (training) {
                    leaf.setRequiresGradient(true);
                }
                leaves.put(names.get(p), leaf);
            }
            Trainable.Binding binding = trainable.bind(base, step, leaves, rowSeeds, context);
            NDArray logits = objective.logits(binding.model(), step, batch, binding.hooks());
            NDArray loss = objective.sum(step, logits, batch, rows);
            if (training) {
                Djl.backward(loss);
                for (int p = 0; p < names.size(); p++) {
                    NDArray leafGradient = Djl.gradientOrNull(leaves.get(names.get(p)), step);
                    if (leafGradient == null) {
                        continue; // the leaf took no part in this forward (a Compresso mask before pruning starts)
                    }
                    double[] g = Djl.toDoubles(leafGradient);
                    if (gradients[p] == null) {
                        gradients[p] = g;
                    } else {
                        double[] sum = gradients[p];
                        for (int i = 0; i < sum.length; i++) {
                            sum[i] += g[i];
                        }
                    }
                }
            }
            return Djl.toDoubles(loss)[0];
        } catch (Exception e) {
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e);
        }
    }
}
