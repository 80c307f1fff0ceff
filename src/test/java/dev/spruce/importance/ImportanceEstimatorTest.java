package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.WeightSource;
import dev.spruce.scope.LayerRange;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;


/**
 * The DJL estimator equals the closed forms of llm-pruner.md §2.4-§2.5 computed directly from per-sample
 * gradients, and shard partials add up to the single-pass result.
 */
class ImportanceEstimatorTest {
    private static final LlamaConfig CONFIG = TinyModels.config(3, 4, 4);
    private static final int HD = CONFIG.headDim();

    private static List<int[]> samples(int n) {
        List<int[]> s = new ArrayList<>();
        for (int[] row : TinyModels.randomIds(CONFIG, n, 8, 77)) {
            s.add(row);
        }
        return s;
    }

    /** Per-sample gradients g_n of every weight (each sample's own mean loss), float64. */
    private static List<Map<String, double[]>> perSampleGradients(LlamaModel model, List<int[]> samples) {
        List<Map<String, double[]>> out = new ArrayList<>();
        for (int[] sample : samples) {
            try (NDManager step = NDManager.newBaseManager(Device.cpu())) {
                LlamaModel view = model.leafView(step, model.weights().keySet());
                TokenBatch b = TokenBatch.selfSupervised(new int[][] {sample});
                try (AutoCloseable grad = Djl.gradScope(true)) {
                    Djl.backward(CausalLmLoss.mean(step, view.logits(step, b, ForwardHooks.NONE), b));
                }
                Map<String, double[]> g = new HashMap<>();
                for (String name : model.weights().keySet()) {
                    g.put(name, Djl.toDoubles(Djl.gradient(view.weight(name), step)));
                }
                out.add(g);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return out;
    }

    /** Element salience S of the table in llm-pruner.md §2.4 for one tensor. */
    private static double[] salience(Criterion c, double[] w, List<Map<String, double[]>> grads, String name) {
        int n = grads.size();
        double[] s = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            double g = 0;
            double f = 0;
            for (Map<String, double[]> gn : grads) {
                g += gn.get(name)[i] / n;
                f += gn.get(name)[i] * gn.get(name)[i] / n;
            }
            s[i] = switch (c) {
                case PARAM_FIRST, VECTORIZE -> w[i] * g;
                case PARAM_SECOND -> w[i] * f * w[i];
                case PARAM_MIX -> w[i] * g - 0.5 * w[i] * f * w[i];
                case L1 -> Math.abs(w[i]);
                case L2 -> w[i] * w[i];
                default -> throw new IllegalArgumentException();
            };
        }
        return s;
    }

    /** Σ over the other axis for one channel: |Σ S| for vectorize, Σ|S| otherwise. */
    private static double channel(Criterion c, double[] s, int cols, int index, boolean row) {
        int rows = s.length / cols;
        double sum = 0;
        int len = row ? cols : rows;
        for (int k = 0; k < len; k++) {
            double v = row ? s[index * cols + k] : s[k * cols + index];
            sum += c == Criterion.VECTORIZE ? v : Math.abs(v);
        }
        return c == Criterion.VECTORIZE ? Math.abs(sum) : sum;
    }

    @Test
    void everyCriterionEqualsTheSpecFormulaOnOneNode() {
        Map<String, double[]> w = TinyModels.randomWeights(CONFIG, 9);
        List<int[]> samples = samples(5);
        LayerRange range = new LayerRange(1, 3);
        try (LlamaModel model = LlamaModel.load(CONFIG, WeightSource.of(CONFIG, w), DataType.FLOAT64, Device.cpu())) {
            List<Map<String, double[]>> grads = perSampleGradients(model, samples);
            for (Criterion c : new Criterion[] {Criterion.VECTORIZE, Criterion.PARAM_FIRST, Criterion.PARAM_SECOND,
                    Criterion.PARAM_MIX, Criterion.L1, Criterion.L2}) {
                ImportanceScores scores = ImportanceEstimator.estimate(model, samples,
                        ScoringSettings.blockWise(c, range, range), 2);
                double members = c.isTaylor() ? 1 : 0; // Taylor sums members; magnitude averages them
                for (int l = 1; l < 3; l++) {
                    Map<String, double[]> s = new HashMap<>();
                    for (String t : new String[] {TensorNames.Q, TensorNames.K, TensorNames.V, TensorNames.O,
                            TensorNames.GATE, TensorNames.UP, TensorNames.DOWN}) {
                        String name = TensorNames.layer(l, t);
                        s.put(t, salience(c, w.get(name), grads, name));
                    }
                    int d = CONFIG.hiddenSize();
                    for (int head = 0; head < CONFIG.numAttentionHeads(); head++) {
                        double expected = 0;
                        for (int r = head * HD; r < (head + 1) * HD; r++) {
                            double sum = channel(c, s.get(TensorNames.Q), d, r, true)
                                    + channel(c, s.get(TensorNames.K), d, r, true)
                                    + channel(c, s.get(TensorNames.V), d, r, true)
                                    + channel(c, s.get(TensorNames.O), CONFIG.numAttentionHeads() * HD, r, false);
                            expected += members == 1 ? sum : sum / 4;
                        }
                        assertEquals(expected, scores.attention()[l][head], 1e-9 * Math.abs(expected),
                                c + " layer " + l + " head " + head);
                    }
                    int m = CONFIG.intermediateSize();
                    for (int j = 0; j < m; j++) {
                        double sum = channel(c, s.get(TensorNames.GATE), d, j, true)
                                + channel(c, s.get(TensorNames.UP), d, j, true)
                                + channel(c, s.get(TensorNames.DOWN), m, j, false);
                        double expected = members == 1 ? sum : sum / 3;
                        assertEquals(expected, scores.mlp()[l][j], 1e-9 * Math.abs(expected),
                                c + " layer " + l + " channel " + j);
                    }
                }
                assertEquals(null, scores.attention()[0]);
            }
        }
    }

    @Test
    void unevenShardPartialsAddUpToTheSinglePass() {
        LlamaConfig gqa = TinyModels.config(2, 4, 2);
        Map<String, double[]> w = TinyModels.randomWeights(gqa, 10);
        List<int[]> samples = new ArrayList<>(List.of(TinyModels.randomIds(gqa, 7, 6, 5)));
        LayerRange all = LayerRange.all(2);
        for (Criterion c : new Criterion[] {Criterion.PARAM_FIRST, Criterion.PARAM_MIX, Criterion.VECTORIZE}) {
            ScoringSettings settings = ScoringSettings.blockWise(c, all, all);
            try (LlamaModel model = LlamaModel.load(gqa, WeightSource.of(gqa, w), DataType.FLOAT64, Device.cpu())) {
                ImportanceScores single = ImportanceEstimator.estimate(model, samples, settings, 7);
                GroupScorer scorer = new GroupScorer(gqa, settings);
                Map<Member, double[]> summed = new HashMap<>();
                int[][] shards = {{0, 1}, {1, 4}, {4, 7}};
                for (int[] shard : shards) {
                    try (GradientAccumulator acc = new GradientAccumulator(model, c, scorer.members())) {
                        acc.add(TokenBatch.selfSupervised(samples.subList(shard[0], shard[1]).toArray(new int[0][])));
                        acc.partials().forEach((m, p) -> summed.merge(m, p, (a, b) -> {
                            double[] r = a.clone();
                            for (int i = 0; i < r.length; i++) {
                                r[i] += b[i];
                            }
                            return r;
                        }));
                    }
                }
                ImportanceScores sharded = scorer.score(ImportanceEstimator.memberVectors(c, scorer.members(),
                        summed::get, ImportanceEstimator.weightsOf(model), samples.size()));
                for (int l = 0; l < 2; l++) {
                    assertNotNull(single.attention()[l]);
                    for (int g = 0; g < single.attention()[l].length; g++) {
                        assertEquals(single.attention()[l][g], sharded.attention()[l][g],
                                1e-9 * Math.abs(single.attention()[l][g]), c + " attention " + l + "/" + g);
                    }
                    for (int j = 0; j < single.mlp()[l].length; j++) {
                        assertEquals(single.mlp()[l][j], sharded.mlp()[l][j], 1e-9 * Math.abs(single.mlp()[l][j]));
                    }
                }
            }
        }
    }
}
