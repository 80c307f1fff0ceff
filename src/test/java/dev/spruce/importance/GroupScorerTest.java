package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.LayerRange;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;


/** Group reduction, head aggregation, GQA folds and the closed forms of llm-pruner.md §2.5. */
class GroupScorerTest {
    private static final String L0 = "model.layers.0.";
    private static final Member Q = new Member(L0 + "self_attn.q_proj.weight", Axis.ROW);
    private static final Member K = new Member(L0 + "self_attn.k_proj.weight", Axis.ROW);
    private static final Member V = new Member(L0 + "self_attn.v_proj.weight", Axis.ROW);
    private static final Member O = new Member(L0 + "self_attn.o_proj.weight", Axis.COLUMN);
    private static final Member GATE = new Member(L0 + "mlp.gate_proj.weight", Axis.ROW);
    private static final Member UP = new Member(L0 + "mlp.up_proj.weight", Axis.ROW);
    private static final Member DOWN = new Member(L0 + "mlp.down_proj.weight", Axis.COLUMN);

    /** One MHA layer: 2 heads of head_dim 2, 3 MLP channels. */
    private static final LlamaConfig MHA = TinyModel.config(1, 4, 2, 2, 3, false);
    /** One GQA layer: 4 query heads, 2 kv heads, head_dim 2. */
    private static final LlamaConfig GQA = TinyModel.config(1, 8, 4, 2, 3, false);

    private static MemberVectors handWritten() {
        return MemberVectors.of(Map.of(
                Q, new double[] {1, 2, 3, 4},
                K, new double[] {2, 2, 2, 2},
                V, new double[] {0.5, 1, 1, 0.5},
                O, new double[] {1, 1, 1, 1},
                GATE, new double[] {1, 2, 3},
                UP, new double[] {4, 0.5, 1},
                DOWN, new double[] {2, 2, 0.25}));
    }

    private static ImportanceScores scoreMha(GroupReduction reduction) {
        ScoringSettings s = ScoringSettings.blockWise(Criterion.PARAM_FIRST, LayerRange.all(1), LayerRange.all(1))
                .withReduction(reduction);
        return new GroupScorer(MHA, s).score(handWritten());
    }

    @Test
    void groupReductionsThenHeadSumsGiveHandComputedScores() {
        // Per channel q,k,v,o: (1,2,.5,1) (2,2,1,1) (3,2,1,1) (4,2,.5,1); heads = channels {0,1} and {2,3}.
        assertArrayEquals(new double[] {10.5, 14.5}, scoreMha(GroupReduction.SUM).attention()[0]);
        assertArrayEquals(new double[] {2.625, 3.625}, scoreMha(GroupReduction.MEAN).attention()[0]);
        assertArrayEquals(new double[] {4, 7}, scoreMha(GroupReduction.MAX).attention()[0]);
        assertArrayEquals(new double[] {5, 10}, scoreMha(GroupReduction.PROD).attention()[0]);
        assertArrayEquals(new double[] {3, 7}, scoreMha(GroupReduction.FIRST).attention()[0]);
        // MLP per channel gate,up,down: (1,4,2) (2,.5,2) (3,1,.25).
        assertArrayEquals(new double[] {7, 4.5, 4.25}, scoreMha(GroupReduction.SUM).mlp()[0]);
        assertArrayEquals(new double[] {7.0 / 3, 1.5, 4.25 / 3}, scoreMha(GroupReduction.MEAN).mlp()[0], 1e-15);
        assertArrayEquals(new double[] {4, 2, 3}, scoreMha(GroupReduction.MAX).mlp()[0]);
        assertArrayEquals(new double[] {8, 2, 0.75}, scoreMha(GroupReduction.PROD).mlp()[0]);
        assertArrayEquals(new double[] {1, 2, 3}, scoreMha(GroupReduction.FIRST).mlp()[0]);
        assertNull(scoreMha(GroupReduction.SUM).hidden());
    }

    @Test
    void firstReadsOnlyTheRootMembers() {
        ScoringSettings s = ScoringSettings.blockWise(Criterion.PARAM_FIRST, LayerRange.all(1), LayerRange.all(1))
                .withReduction(GroupReduction.FIRST);
        assertEquals(List.of(Q, GATE), new GroupScorer(MHA, s).members());
        assertEquals(List.of(K, GATE), new GroupScorer(GQA, s).members());
        assertEquals(List.of(Q, K, V, O, GATE, UP, DOWN),
                new GroupScorer(MHA, s.withReduction(GroupReduction.SUM)).members());
    }

    @Test
    void gqaFoldsDifferAsTheSpecDescribes() {
        Map<Member, double[]> vectors = new HashMap<>();
        vectors.put(Q, new double[] {1, 2, 3, 4, 10, 20, 30, 40});
        vectors.put(K, new double[] {1, 1, 1, 1});
        vectors.put(V, new double[] {0, 0, 0, 0});
        vectors.put(O, new double[] {0, 0, 0, 0, 0, 0, 0, 100});
        ScoringSettings s = ScoringSettings.blockWise(Criterion.PARAM_FIRST, LayerRange.all(1), LayerRange.none());
        // CORRECT: kv group 0 <- q heads 0,1 (q channels 0..3), group 1 <- q heads 2,3 (channels 4..7):
        // kv channels 1+3+1, 2+4+1, 10+30+1, 20+40+100+1 -> groups 12, 202.
        assertArrayEquals(new double[] {12, 202}, new GroupScorer(GQA, s).score(MemberVectors.of(vectors))
                .attention()[0]);
        // REFERENCE_STRIDED: kv channel c <- q channels c and c+4:
        // 1+10+1, 2+20+1, 3+30+1, 4+40+100+1 -> groups 35, 179.
        assertArrayEquals(new double[] {35, 179}, new GroupScorer(GQA, s.withGqaFold(GqaFold.REFERENCE_STRIDED))
                .score(MemberVectors.of(vectors)).attention()[0]);
        // FIRST on GQA is the k root alone.
        assertArrayEquals(new double[] {2, 2}, new GroupScorer(GQA, s.withReduction(GroupReduction.FIRST))
                .score(MemberVectors.of(vectors)).attention()[0]);
    }

    @Test
    void mhaParamFirstSumMatchesTheClosedForm() {
        // LLaMA-shaped: 2 layers, d 8, 4 heads of 2, 6 MLP channels; 3 calibration samples.
        TinyModel model = new TinyModel(TinyModel.config(2, 8, 4, 4, 6, false), 3, 99L);
        ScoringSettings s = ScoringSettings.blockWise(Criterion.PARAM_FIRST, LayerRange.all(2), LayerRange.all(2));
        GroupScorer scorer = new GroupScorer(model.config, s);
        ImportanceScores scores = scorer.score(MemberVectors.of(
                model.memberVectors(Criterion.PARAM_FIRST, scorer.members(), List.of(new int[] {0, 1, 2}))));
        int d = 8;
        int hd = 2;
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            double[][] wq = matrix(model.weights.get(p + "self_attn.q_proj.weight"), d);
            double[][] gq = matrix(model.meanGradient(p + "self_attn.q_proj.weight"), d);
            double[][] wk = matrix(model.weights.get(p + "self_attn.k_proj.weight"), d);
            double[][] gk = matrix(model.meanGradient(p + "self_attn.k_proj.weight"), d);
            double[][] wv = matrix(model.weights.get(p + "self_attn.v_proj.weight"), d);
            double[][] gv = matrix(model.meanGradient(p + "self_attn.v_proj.weight"), d);
            double[][] wo = matrix(model.weights.get(p + "self_attn.o_proj.weight"), 8);
            double[][] go = matrix(model.meanGradient(p + "self_attn.o_proj.weight"), 8);
            double[] heads = new double[4];
            for (int k = 0; k < 4; k++) {
                for (int r = k * hd; r < (k + 1) * hd; r++) {
                    for (int i = 0; i < d; i++) {
                        heads[k] += Math.abs(wq[r][i] * gq[r][i]) + Math.abs(wk[r][i] * gk[r][i])
                                + Math.abs(wv[r][i] * gv[r][i]);
                    }
                    for (int o = 0; o < d; o++) {
                        heads[k] += Math.abs(wo[o][r] * go[o][r]);
                    }
                }
            }
            Close.assertRelative(heads, scores.attention()[l], 1e-12, "head scores of layer " + l);

            double[][] wGate = matrix(model.weights.get(p + "mlp.gate_proj.weight"), d);
            double[][] gGate = matrix(model.meanGradient(p + "mlp.gate_proj.weight"), d);
            double[][] wUp = matrix(model.weights.get(p + "mlp.up_proj.weight"), d);
            double[][] gUp = matrix(model.meanGradient(p + "mlp.up_proj.weight"), d);
            double[][] wDown = matrix(model.weights.get(p + "mlp.down_proj.weight"), 6);
            double[][] gDown = matrix(model.meanGradient(p + "mlp.down_proj.weight"), 6);
            double[] channels = new double[6];
            for (int j = 0; j < 6; j++) {
                for (int i = 0; i < d; i++) {
                    channels[j] += Math.abs(wGate[j][i] * gGate[j][i]) + Math.abs(wUp[j][i] * gUp[j][i]);
                }
                for (int o = 0; o < d; o++) {
                    channels[j] += Math.abs(wDown[o][j] * gDown[o][j]);
                }
            }
            Close.assertRelative(channels, scores.mlp()[l], 1e-12, "MLP channel scores of layer " + l);
        }
    }

    @Test
    void hiddenChannelsReduceEveryResidualMember() {
        LlamaConfig twoLayers = TinyModel.config(2, 4, 2, 2, 3, false);
        ScoringSettings s = ScoringSettings.blockWise(Criterion.PARAM_FIRST, LayerRange.none(), LayerRange.none())
                .withHiddenChannels(true);
        List<Member> members = new GroupScorer(twoLayers, s).members();
        // Root input_layernorm 0, embeddings, layer 0: q,k,v,o,post,gate,up,down; layer 1: the same plus its
        // input_layernorm; final norm; lm_head.
        assertEquals(21, members.size());
        assertEquals(new Member("model.layers.0.input_layernorm.weight", Axis.ENTRY), members.get(0));
        assertTrue(members.contains(new Member("model.embed_tokens.weight", Axis.COLUMN)));
        assertTrue(members.contains(new Member("model.layers.1.self_attn.o_proj.weight", Axis.ROW)));
        assertTrue(members.contains(new Member("model.layers.1.mlp.up_proj.weight", Axis.COLUMN)));
        assertTrue(members.contains(new Member("lm_head.weight", Axis.COLUMN)));
        // Member k gets the vector (k+1) * [1, 2, 3, 4]: the sum over 21 members is 231 * [1, 2, 3, 4].
        Map<Member, double[]> vectors = new HashMap<>();
        for (int k = 0; k < members.size(); k++) {
            vectors.put(members.get(k), new double[] {k + 1, 2 * (k + 1), 3 * (k + 1), 4 * (k + 1)});
        }
        GroupScorer scorer = new GroupScorer(twoLayers, s);
        assertArrayEquals(new double[] {231, 462, 693, 924}, scorer.score(MemberVectors.of(vectors)).hidden());
        assertArrayEquals(new double[] {11, 22, 33, 44},
                new GroupScorer(twoLayers, s.withReduction(GroupReduction.MEAN))
                .score(MemberVectors.of(vectors)).hidden());
        assertArrayEquals(new double[] {1, 2, 3, 4}, new GroupScorer(twoLayers, s.withReduction(GroupReduction.FIRST))
                .score(MemberVectors.of(vectors)).hidden());
        ImportanceScores scores = scorer.score(MemberVectors.of(vectors));
        assertNull(scores.attention()[0]);
        assertNull(scores.mlp()[1]);
        // Tied embeddings: no lm_head member.
        assertEquals(20, new GroupScorer(TinyModel.config(2, 4, 2, 2, 3, true), s).members().size());
    }

    @Test
    void randomIsSeededPerRootChannelAndNeedsNoMembers() {
        LlamaConfig threeLayers = TinyModel.config(3, 8, 4, 2, 6, false);
        ScoringSettings s = ScoringSettings.blockWise(Criterion.RANDOM, LayerRange.all(3), LayerRange.all(3))
                .withSeed(5);
        GroupScorer scorer = new GroupScorer(threeLayers, s);
        assertEquals(List.of(), scorer.members());
        MemberVectors none = m -> {
            throw new AssertionError("random asked for " + m);
        };
        ImportanceScores a = scorer.score(none);
        ImportanceScores again = scorer.score(none);
        ImportanceScores otherSeed = new GroupScorer(threeLayers, s.withSeed(6)).score(none);
        ImportanceScores layer2Only = new GroupScorer(threeLayers,
                ScoringSettings.blockWise(Criterion.RANDOM, new LayerRange(2, 3), new LayerRange(2, 3)).withSeed(5))
                .score(none);
        for (int l = 0; l < 3; l++) {
            assertEquals(2, a.attention()[l].length);
            assertEquals(6, a.mlp()[l].length);
            for (double head : a.attention()[l]) {
                assertTrue(head >= 0 && head < 2, "a kv group sums head_dim = 2 draws in [0,1): " + head);
            }
            for (double channel : a.mlp()[l]) {
                assertTrue(channel >= 0 && channel < 1, "an MLP channel is one draw in [0,1): " + channel);
            }
            assertArrayEquals(a.mlp()[l], again.mlp()[l]);
            assertNotEquals(a.mlp()[l][0], otherSeed.mlp()[l][0]);
        }
        assertNotEquals(a.mlp()[0][0], a.mlp()[1][0]);
        assertArrayEquals(a.attention()[2], layer2Only.attention()[2]);
        assertArrayEquals(a.mlp()[2], layer2Only.mlp()[2]);
        assertNull(layer2Only.attention()[1]);
    }

    @Test
    void missingOrMisshapedMemberVectorsAreNamed() {
        ScoringSettings s = ScoringSettings.blockWise(Criterion.PARAM_FIRST, LayerRange.all(1), LayerRange.all(1));
        Map<Member, double[]> vectors = new HashMap<>(Map.of(Q, new double[4], K, new double[4], V, new double[4],
                O, new double[3]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new GroupScorer(MHA, s).score(MemberVectors.of(vectors)));
        assertEquals("member vector for model.layers.0.self_attn.o_proj.weight (COLUMN) has 3 values, expected 4 "
                + "(num_attention_heads*head_dim of layer 0)", e.getMessage());
        vectors.put(O, new double[4]);
        e = assertThrows(IllegalArgumentException.class,
                () -> new GroupScorer(MHA, s).score(MemberVectors.of(vectors)));
        assertEquals("no member vector for model.layers.0.mlp.gate_proj.weight (ROW)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new GroupScorer(MHA,
                ScoringSettings.blockWise(Criterion.L1, new LayerRange(0, 2), LayerRange.none())));
        assertEquals("attention layer range 0:2 is outside the model: num_hidden_layers = 1, so the range must "
                + "satisfy 0 <= start <= end <= 1 (end exclusive)", e.getMessage());
    }

    private static double[][] matrix(double[] rowMajor, int cols) {
        double[][] m = new double[rowMajor.length / cols][cols];
        for (int i = 0; i < rowMajor.length; i++) {
            m[i / cols][i % cols] = rowMajor[i];
        }
        return m;
    }
}
