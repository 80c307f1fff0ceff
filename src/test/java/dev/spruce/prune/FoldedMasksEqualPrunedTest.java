package dev.spruce.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.spruce.lora.LoraAdapters;
import dev.spruce.lora.LoraSettings;
import dev.spruce.lora.PeftExport;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.safetensors.DType;
import dev.spruce.scope.InvalidPlanException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compresso's masked model (RMSNorm over the full width, fractional surviving mask values, zeros elsewhere)
 * against the model {@link PlanApplier} writes from a plan of explicit keep decisions with a {@link Folding}, in
 * float64. With rms_norm_eps = 1e-30 the epsilon term (eps·d_kept/d after the rescale) vanishes, so the logits
 * agree to rounding.
 */
class FoldedMasksEqualPrunedTest {
    private static final double TOLERANCE = 1e-9;
    private static final double TINY_EPS = 1e-30;

    @TempDir
    java.nio.file.Path tmp;

    @Test
    void headsOnlyMha() {
        LlamaConfig c = config(2, 4, 4, false, TINY_EPS);
        Masks m = new Masks(c, 51).kvGroups(0, 0, 2).kvGroups(1, 1, 2, 3);
        assertFoldedEqualsMasked(c, m, "heads");
    }

    @Test
    void kvGroupsOnGqa() {
        LlamaConfig c = config(2, 4, 2, false, TINY_EPS); // n_rep = 2
        Masks m = new Masks(c, 52).kvGroups(0, 1).kvGroups(1, 0, 1);
        PrunePlan plan = assertFoldedEqualsMasked(c, m, "gqa");
        assertEquals(2, plan.prunedConfig().layerHeads(0));
        assertEquals(1, plan.prunedConfig().layerKvHeads(0));
    }

    @Test
    void mlpChannelsOnly() {
        LlamaConfig c = config(2, 4, 2, false, TINY_EPS);
        Masks m = new Masks(c, 53).channels(0, 0, 3, 4, 5, 9, 10, 11, 17, 20, 23).channels(1, 2, 7, 8, 13, 14, 22);
        assertFoldedEqualsMasked(c, m, "mlp");
    }

    @Test
    void hiddenChannelsOnly() {
        LlamaConfig c = config(2, 4, 2, false, TINY_EPS);
        Masks m = new Masks(c, 54).hidden(0, 1, 4, 5, 6, 9, 10, 12, 13, 14, 15);
        PrunePlan plan = assertFoldedEqualsMasked(c, m, "hidden");
        assertEquals(11, plan.prunedConfig().hiddenSize());
    }

    @Test
    void everythingAtOnceMhaWithAnEmptiedMlp() {
        LlamaConfig c = config(3, 4, 4, false, TINY_EPS);
        Masks m = new Masks(c, 55).kvGroups(0, 1, 3).kvGroups(2, 0, 1, 2)
                .channels(0, 1, 2, 3, 5, 8, 13, 21).channels(1).channels(2, 0, 6, 7, 19)
                .hidden(0, 2, 3, 4, 7, 8, 11, 12, 13, 15);
        PrunePlan plan = assertFoldedEqualsMasked(c, m, "all-mha");
        assertEquals(0, plan.prunedConfig().layerIntermediate(1));
    }

    @Test
    void everythingAtOnceGqaWithAnEmptiedAttention() {
        LlamaConfig c = config(3, 4, 2, false, TINY_EPS);
        Masks m = new Masks(c, 56).kvGroups(0).kvGroups(1, 1)
                .channels(0, 4, 5, 6, 7, 8, 20).channels(2, 1, 2, 3, 11, 12, 16, 18, 23)
                .hidden(1, 2, 3, 5, 6, 8, 9, 10, 14);
        PrunePlan plan = assertFoldedEqualsMasked(c, m, "all-gqa");
        assertEquals(0, plan.prunedConfig().layerHeads(0));
        assertEquals(2, plan.prunedConfig().layerHeads(1));
    }

    /**
     * Compresso learns masks together with LoRA: the masked forward runs the adapters on q and v and the masks in
     * one pass; the pruned model is the plan applied to the merged model.
     */
    @Test
    void loraOnQAndVMergedFirst() {
        LlamaConfig c = config(2, 4, 2, false, TINY_EPS);
        Map<String, double[]> base = TinyModels.randomWeights(c, 57);
        Path baseDir = ApplyFixtures.writeModel(tmp.resolve("lora-base"), c, base, DType.F64,
                ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        LoraSettings lora = new LoraSettings(2, 4, 0, List.of("q_proj", "v_proj"));
        Map<String, double[]> adapters = LoraAdapters.initialize(c, lora, 58);
        SplittableRandom random = new SplittableRandom(59);
        adapters.replaceAll((name, v) -> name.contains("lora_B") ? random.doubles(v.length, -0.5, 0.5).toArray() : v);
        Path mergedDir = ApplyFixtures.hadoop(tmp.resolve("lora-merged"));
        PeftExport.writeMerged(baseDir, mergedDir, lora, adapters, false);

        Masks m = new Masks(c, 60).kvGroups(0, 1).channels(1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
                .hidden(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13);
        PrunePlan plan = m.plan();
        Path prunedDir = ApplyFixtures.hadoop(tmp.resolve("lora-pruned"));
        PlanApplier.apply(mergedDir, plan, prunedDir, ApplyOptions.defaults());

        int[][] ids = TinyModels.randomIds(c, 2, 7, 57);
        double[] pruned = logits(prunedDir, ids, s -> ForwardHooks.NONE);
        double[] masked = logits(baseDir, ids, s -> ForwardHooks.adaptersWithMasks(
                LoraAdapters.of(s, c, lora, onStep(s, adapters, LoraAdapters.shapes(c, lora)), DataType.FLOAT64, null),
                m.hooks(s, false)));
        assertClose(masked, pruned, "LoRA masked vs merged and pruned");
        double[] masksOnly = logits(baseDir, ids, s -> m.hooks(s, false));
        assertTrue(relativeDifference(masksOnly, pruned) > 1e-3, "the adapters must matter");
    }

    /** With the usual eps the pruned model's epsilon is eps·d_kept/d: close to the masked model, not equal. */
    @Test
    void withTheUsualEpsilonTheyDifferByTheEpsilonTermOnly() {
        LlamaConfig c = config(2, 4, 2, false, 1e-5);
        Masks m = new Masks(c, 61).hidden(0, 1, 4, 5, 6, 9, 10, 12, 13, 14, 15);
        double relative = foldedVersusMasked(c, m, "eps");
        assertTrue(relative > 1e-12 && relative < 1e-3, "relative difference " + relative);
    }

    /** The kept-mass norm (the default forward) with fractional hidden values: norm weights × sqrt(Σm / d_kept). */
    @Test
    void keptMassNormWithFractionalHiddenValues() {
        LlamaConfig c = config(2, 4, 2, false, TINY_EPS);
        Masks m = new Masks(c, 62).kvGroups(1, 0).hidden(0, 1, 2, 5, 6, 7, 8, 11, 13, 14);
        PrunePlan plan = m.plan(HiddenNorm.KEPT_MASS);
        Path source = m.writeSource(tmp.resolve("kept-source"));
        Path prunedDir = ApplyFixtures.hadoop(tmp.resolve("kept-pruned"));
        PlanApplier.apply(source, plan, prunedDir, ApplyOptions.defaults());
        int[][] ids = TinyModels.randomIds(c, 2, 7, 62);
        assertClose(logits(source, ids, s -> m.hooks(s, true)), logits(prunedDir, ids, s -> ForwardHooks.NONE),
                "kept-mass norm");
    }

    @Test
    void tiedEmbeddingsRefuseTheHiddenFoldButTakeBinarySurvivors() {
        LlamaConfig c = config(2, 4, 2, true, TINY_EPS);
        Masks m = new Masks(c, 63).kvGroups(0, 1).hidden(0, 1, 2, 3, 6, 7, 8, 9, 10, 14, 15);
        PrunePlan kept = m.keptOnly();
        InvalidPlanException e = assertThrows(InvalidPlanException.class, () -> kept.withFolding(m.folding(
                HiddenNorm.FULL_WIDTH)));
        assertTrue(e.getMessage().startsWith("the hidden mask values cannot be folded into a model with "
                + "tie_word_embeddings = true: embed_tokens is also the LM head"), e.getMessage());
        assertTrue(e.getMessage().contains("Folding.survivorsAtOne()"), e.getMessage());

        // binary survivors: only the norm rescale is folded, and that stays exact with tied embeddings
        PrunePlan plan = kept.withFolding(m.folding(HiddenNorm.FULL_WIDTH).survivorsAtOne());
        Path source = m.writeSource(tmp.resolve("tied-source"));
        Path prunedDir = ApplyFixtures.hadoop(tmp.resolve("tied-pruned"));
        PlanApplier.apply(source, plan, prunedDir, ApplyOptions.defaults());
        int[][] ids = TinyModels.randomIds(c, 2, 7, 63);
        double[] pruned = logits(prunedDir, ids, s -> ForwardHooks.NONE);
        assertClose(logits(source, ids, s -> m.binary().hooks(s, false)), pruned, "tied, binary masks");
        assertTrue(relativeDifference(logits(source, ids, s -> m.hooks(s, false)), pruned) > 1e-3,
                "dropping the surviving values to 1 changes the model");
    }

    // ---------------------------------------------------------------- helpers

    private PrunePlan assertFoldedEqualsMasked(LlamaConfig c, Masks m, String name) {
        double relative = foldedVersusMasked(c, m, name);
        assertTrue(relative <= TOLERANCE, name + ": masked vs pruned, relative " + relative);
        // the same decisions without the fold are a different model: the fold is what makes them agree
        Path source = ApplyFixtures.hadoop(tmp.resolve(name + "-source"));
        Path unfolded = ApplyFixtures.hadoop(tmp.resolve(name + "-unfolded"));
        PlanApplier.apply(source, m.keptOnly(), unfolded, ApplyOptions.defaults());
        int[][] ids = TinyModels.randomIds(c, 2, 7, 5);
        assertTrue(relativeDifference(logits(source, ids, s -> m.hooks(s, false)),
                logits(unfolded, ids, s -> ForwardHooks.NONE)) > 1e-3, name + ": folding must matter");
        return m.plan();
    }

    /** max |masked - pruned| / max |masked| over the logits of a random batch. */
    private double foldedVersusMasked(LlamaConfig c, Masks m, String name) {
        Path source = m.writeSource(tmp.resolve(name + "-source"));
        Path prunedDir = ApplyFixtures.hadoop(tmp.resolve(name + "-pruned"));
        PlanApplier.apply(source, m.plan(), prunedDir, ApplyOptions.defaults());
        int[][] ids = TinyModels.randomIds(c, 2, 7, 5);
        double[] masked = logits(source, ids, s -> m.hooks(s, false));
        double[] pruned = logits(prunedDir, ids, s -> ForwardHooks.NONE);
        assertTrue(relativeDifference(logits(source, ids, s -> ForwardHooks.NONE), masked) > 1e-3,
                "the masks must change the logits");
        return relativeDifference(masked, pruned);
    }

    static LlamaConfig config(int layers, int heads, int kvHeads, boolean tied, double eps) {
        return TinyModels.builder(layers, heads, kvHeads).tieWordEmbeddings(tied).rmsNormEps(eps).build();
    }

    private static double[] logits(Path dir, int[][] ids, Function<NDManager, ForwardHooks> hooks) {
        try (LlamaModel model = ModelFiles.load(dir, DataType.FLOAT64, Device.cpu());
             NDManager step = NDManager.newBaseManager(Device.cpu())) {
            return Djl.toDoubles(model.logits(step, new TokenBatch(ids, null, null), hooks.apply(step)));
        }
    }

    private static Map<String, NDArray> onStep(NDManager step, Map<String, double[]> params,
                                               Map<String, long[][]> shapes) {
        Map<String, NDArray> out = new HashMap<>();
        shapes.forEach((weight, ab) -> {
            out.put(LoraAdapters.aName(weight), step.create(params.get(LoraAdapters.aName(weight)), new Shape(ab[0])));
            out.put(LoraAdapters.bName(weight), step.create(params.get(LoraAdapters.bName(weight)), new Shape(ab[1])));
        });
        return out;
    }

    private static void assertClose(double[] masked, double[] pruned, String what) {
        double relative = relativeDifference(masked, pruned);
        assertTrue(relative <= TOLERANCE, what + ": relative difference " + relative);
    }

    static double relativeDifference(double[] reference, double[] other) {
        assertEquals(reference.length, other.length);
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < reference.length; i++) {
            diff = Math.max(diff, Math.abs(reference[i] - other[i]));
            scale = Math.max(scale, Math.abs(reference[i]));
        }
        return diff / scale;
    }

    /**
     * Keep decisions and mask values over one model: a removed unit's value is 0, a kept one's a seeded value in
     * [0.4, 1.6); on GQA a kv group's value is shared by its n_rep query heads. Unset parts keep everything with
     * no mask.
     */
    static final class Masks {
        final LlamaConfig c;
        final long seed;
        final SplittableRandom random;
        final int[][] kv;
        final int[][] channels;
        int[] hidden;
        final double[][] headValues;
        final double[][] channelValues;
        double[] hiddenValues;
        boolean binary;

        Masks(LlamaConfig c, long seed) {
            this.c = c;
            this.seed = seed;
            this.random = new SplittableRandom(seed);
            kv = new int[c.numHiddenLayers()][];
            channels = new int[c.numHiddenLayers()][];
            headValues = new double[c.numHiddenLayers()][];
            channelValues = new double[c.numHiddenLayers()][];
        }

        Masks kvGroups(int layer, int... kept) {
            kv[layer] = kept;
            int rep = c.groupSize(layer);
            headValues[layer] = new double[c.layerHeads(layer)];
            for (int g : kept) {
                double v = value();
                for (int j = 0; j < rep; j++) {
                    headValues[layer][g * rep + j] = v;
                }
            }
            return this;
        }

        Masks channels(int layer, int... kept) {
            channels[layer] = kept;
            channelValues[layer] = values(kept, c.layerIntermediate(layer));
            return this;
        }

        Masks hidden(int... kept) {
            hidden = kept;
            hiddenValues = values(kept, c.hiddenSize());
            return this;
        }

        /** The same decisions with every surviving value 1. */
        Masks binary() {
            Masks b = new Masks(c, seed);
            b.binary = true;
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                if (kv[l] != null) {
                    b.kvGroups(l, kv[l]);
                }
                if (channels[l] != null) {
                    b.channels(l, channels[l]);
                }
            }
            if (hidden != null) {
                b.hidden(hidden);
            }
            return b;
        }

        private double value() {
            return binary ? 1 : 0.4 + 1.2 * random.nextDouble();
        }

        private double[] values(int[] kept, int n) {
            double[] v = new double[n];
            for (int i : kept) {
                v[i] = value();
            }
            return v;
        }

        Path writeSource(java.nio.file.Path dir) {
            return ApplyFixtures.writeModel(dir, c, TinyModels.randomWeights(c, seed), DType.F64,
                    ModelFiles.DEFAULT_MAX_SHARD_BYTES);
        }

        PrunePlan keptOnly() {
            return PrunePlan.ofKept("compresso", c, kv, channels, hidden);
        }

        Folding folding(HiddenNorm norm) {
            return new Folding(norm, hiddenValues, any(headValues) ? headValues : null,
                    any(channelValues) ? channelValues : null);
        }

        PrunePlan plan() {
            return plan(HiddenNorm.FULL_WIDTH);
        }

        PrunePlan plan(HiddenNorm norm) {
            return keptOnly().withFolding(folding(norm));
        }

        private static boolean any(double[][] rows) {
            for (double[] r : rows) {
                if (r != null) {
                    return true;
                }
            }
            return false;
        }

        /** The masked forward's hooks; {@code overKept} picks the RMSNorm rule under the hidden mask. */
        ForwardHooks hooks(NDManager m, boolean overKept) {
            return new ForwardHooks() {
                @Override
                public NDArray headMask(int layer) {
                    return headValues[layer] == null ? null : m.create(headValues[layer]);
                }

                @Override
                public NDArray mlpMask(int layer) {
                    return channelValues[layer] == null ? null : m.create(channelValues[layer]);
                }

                @Override
                public NDArray hiddenMask() {
                    return hiddenValues == null ? null : m.create(hiddenValues);
                }

                @Override
                public boolean hiddenNormOverKept() {
                    return overKept;
                }
            };
        }
    }
}
