package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The distillation loss and its gradient against a plain-Java float64 computation of τ²·KL(p_T || p_S). */
class DistillationLossTest {
    private static final int B = 2;
    private static final int T = 5;
    private static final int V = 7;

    /** Two rows; row 1 has a prompt of 2 tokens (labels -100) and row 0 a padded last position. */
    private static TokenBatch batch() {
        int[][] ids = new int[B][T];
        int[][] labels = new int[B][T];
        for (int r = 0; r < B; r++) {
            for (int t = 0; t < T; t++) {
                ids[r][t] = (3 * r + t) % V;
                labels[r][t] = ids[r][t];
            }
        }
        labels[0][4] = TokenBatch.IGNORE;
        labels[1][1] = TokenBatch.IGNORE;
        labels[1][2] = TokenBatch.IGNORE;
        return new TokenBatch(ids, null, labels);
    }

    private static double[] random(long seed, double scale) {
        SplittableRandom random = new SplittableRandom(seed);
        double[] values = new double[B * T * V];
        for (int i = 0; i < values.length; i++) {
            values[i] = scale * random.nextGaussian();
        }
        return values;
    }

    /** Σ over scored positions of τ²·Σ_v p_T(v)·(log p_T(v) − log p_S(v)), written out per row. */
    private static double[] expectedRows(double[] student, double[] teacher, TokenBatch batch, double tau) {
        double[] rows = new double[B];
        for (int r = 0; r < B; r++) {
            for (int t = 0; t < T - 1; t++) {
                if (batch.labels()[r][t + 1] == TokenBatch.IGNORE) {
                    continue;
                }
                double[] logS = logSoftmax(student, r, t, tau);
                double[] logT = logSoftmax(teacher, r, t, tau);
                double kl = 0;
                for (int v = 0; v < V; v++) {
                    kl += Math.exp(logT[v]) * (logT[v] - logS[v]);
                }
                rows[r] += tau * tau * kl;
            }
        }
        return rows;
    }

    private static double[] logSoftmax(double[] logits, int r, int t, double tau) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < V; v++) {
            max = Math.max(max, logits[(r * T + t) * V + v] / tau);
        }
        double sum = 0;
        for (int v = 0; v < V; v++) {
            sum += Math.exp(logits[(r * T + t) * V + v] / tau - max);
        }
        double[] out = new double[V];
        for (int v = 0; v < V; v++) {
            out[v] = logits[(r * T + t) * V + v] / tau - max - Math.log(sum);
        }
        return out;
    }

    private static double[] rows(double[] student, double[] teacher, TokenBatch batch, double tau) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray s = m.create(student, new Shape(B, T, V));
            NDArray t = m.create(teacher, new Shape(B, T, V));
            return DistillationLoss.rowSums(m, s, t, batch, tau).toDoubleArray();
        }
    }

    @Test
    void equalsTheDirectFloat64ComputationAtSeveralTemperatures() {
        TokenBatch batch = batch();
        double[] student = random(1, 2.0);
        double[] teacher = random(2, 2.0);
        for (double tau : new double[] {1.0, 2.0, 0.5}) {
            double[] expected = expectedRows(student, teacher, batch, tau);
            double[] actual = rows(student, teacher, batch, tau);
            for (int r = 0; r < B; r++) {
                assertEquals(expected[r], actual[r], 1e-12 * Math.abs(expected[r]), "row " + r + " at tau " + tau);
            }
            assertTrue(expected[0] > 0.1 && expected[1] > 0.1, "a test whose loss is near 0 proves little");
        }
    }

    @Test
    void gradientInTheStudentLogitsMatchesCentralDifferences() {
        TokenBatch batch = batch();
        double[] student = random(3, 1.5);
        double[] teacher = random(4, 1.5);
        double tau = 2.0;
        double[] analytic;
        try (NDManager m = NDManager.newBaseManager();
             Djl.GradScope grad = Djl.gradScope(true)) {
            NDArray s = m.create(student, new Shape(B, T, V));
            s.setRequiresGradient(true);
            NDArray loss = DistillationLoss.sum(m, s, m.create(teacher, new Shape(B, T, V)), batch, tau);
            Djl.backward(loss);
            analytic = Djl.toDoubles(Djl.gradient(s, m));
        }
        double h = 1e-6;
        int checked = 0;
        for (int i = 0; i < student.length; i += 3) {
            double saved = student[i];
            student[i] = saved + h;
            double[] plus = expectedRows(student, teacher, batch, tau);
            student[i] = saved - h;
            double[] minus = expectedRows(student, teacher, batch, tau);
            student[i] = saved;
            double numeric = (plus[0] + plus[1] - minus[0] - minus[1]) / (2 * h);
            assertEquals(numeric, analytic[i], 1e-7, "d loss / d student[" + i + "]");
            checked += Math.abs(numeric) > 1e-3 ? 1 : 0;
        }
        assertTrue(checked > 10, "too few non-zero derivatives were checked: " + checked);
        // Positions whose label is ignored get no gradient: row 1 predicts positions 1 and 2 from t = 0 and 1.
        for (int v = 0; v < V; v++) {
            assertEquals(0.0, analytic[(1 * T + 0) * V + v]);
            assertEquals(0.0, analytic[(1 * T + 1) * V + v]);
            assertEquals(0.0, analytic[(0 * T + 3) * V + v]);
            assertEquals(0.0, analytic[(0 * T + 4) * V + v], "the last position predicts nothing");
        }
    }

    @Test
    void aStudentEqualToItsTeacherHasZeroLossAndZeroGradient() {
        TokenBatch batch = batch();
        double[] logits = random(5, 3.0);
        try (NDManager m = NDManager.newBaseManager();
             Djl.GradScope grad = Djl.gradScope(true)) {
            NDArray s = m.create(logits, new Shape(B, T, V));
            s.setRequiresGradient(true);
            NDArray loss = DistillationLoss.sum(m, s, m.create(logits, new Shape(B, T, V)), batch, 1.5);
            Djl.backward(loss);
            assertEquals(0.0, Djl.toDoubles(loss)[0], 0.0);
            for (double g : Djl.toDoubles(Djl.gradient(s, m))) {
                assertEquals(0.0, g, 1e-15);
            }
        }
    }

    @Test
    void float32LogitsAreScoredInFloat32AndMismatchedVocabulariesAreRefused() {
        TokenBatch batch = batch();
        double[] student = random(6, 1.0);
        double[] teacher = random(7, 1.0);
        double[] expected = expectedRows(student, teacher, batch, 1.0);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray s = m.create(student, new Shape(B, T, V)).toType(DataType.FLOAT32, false);
            NDArray t = m.create(teacher, new Shape(B, T, V)).toType(DataType.FLOAT32, false);
            NDArray rows = DistillationLoss.rowSums(m, s, t, batch, 1.0);
            assertEquals(DataType.FLOAT32, rows.getDataType());
            double[] actual = Djl.toDoubles(rows);
            for (int r = 0; r < B; r++) {
                assertEquals(expected[r], actual[r], 1e-5 * Math.abs(expected[r]));
            }
            NDArray wider = m.zeros(new Shape(B, T, V + 1), DataType.FLOAT32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DistillationLoss.rowSums(m, s, wider, batch, 1.0));
            assertTrue(e.getMessage().contains("same vocabulary"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> DistillationLoss.rowSums(m, s, t, batch, 0.0));
        }
    }

    /** The teacher's top-k of log softmax(z/τ) at every position, flattened [B][T-1][k], from plain Java. */
    private static void topK(double[] teacher, double tau, int k, long[] tokens, double[] logProbs) {
        for (int r = 0; r < B; r++) {
            for (int t = 0; t < T - 1; t++) {
                double[] lp = logSoftmax(teacher, r, t, tau);
                Integer[] order = new Integer[V];
                for (int v = 0; v < V; v++) {
                    order[v] = v;
                }
                java.util.Arrays.sort(order, (a, c) -> Double.compare(lp[c], lp[a]));
                for (int j = 0; j < k; j++) {
                    int at = (r * (T - 1) + t) * k + j;
                    tokens[at] = order[j];
                    logProbs[at] = lp[order[j]];
                }
            }
        }
    }

    private static double[] scored(TokenBatch batch) {
        double[] scored = new double[B * (T - 1)];
        for (int r = 0; r < B; r++) {
            for (int t = 0; t < T - 1; t++) {
                scored[r * (T - 1) + t] = batch.labels()[r][t + 1] == TokenBatch.IGNORE ? 0 : 1;
            }
        }
        return scored;
    }

    @Test
    void topKTargetsOverTheWholeVocabularyGiveTheFullLoss() {
        TokenBatch batch = batch();
        double[] student = random(8, 2.0);
        double[] teacher = random(9, 2.0);
        long[] tokens = new long[B * (T - 1) * V];
        double[] logProbs = new double[tokens.length];
        topK(teacher, 2.0, V, tokens, logProbs);
        try (NDManager m = NDManager.newBaseManager()) {
            double[] full = DistillationLoss.rowSums(m, m.create(student, new Shape(B, T, V)),
                    m.create(teacher, new Shape(B, T, V)), batch, 2.0).toDoubleArray();
            double[] fromTopK = DistillationLoss.topKRowSums(m, m.create(student, new Shape(B, T, V)), tokens, logProbs,
                    scored(batch), V, 2.0).toDoubleArray();
            for (int r = 0; r < B; r++) {
                assertEquals(full[r], fromTopK[r], 1e-12 * Math.abs(full[r]), "row " + r);
            }
        }
    }

    @Test
    void topKTargetsAreRenormalisedOverTheirKTokens() {
        TokenBatch batch = batch();
        double[] student = random(10, 2.0);
        double[] teacher = random(11, 2.0);
        int k = 3;
        double tau = 1.5;
        long[] tokens = new long[B * (T - 1) * k];
        double[] logProbs = new double[tokens.length];
        topK(teacher, tau, k, tokens, logProbs);
        double[] expected = new double[B];
        for (int r = 0; r < B; r++) {
            for (int t = 0; t < T - 1; t++) {
                if (batch.labels()[r][t + 1] == TokenBatch.IGNORE) {
                    continue;
                }
                double[] logS = logSoftmax(student, r, t, tau);
                int at = (r * (T - 1) + t) * k;
                double norm = 0;
                for (int j = 0; j < k; j++) {
                    norm += Math.exp(logProbs[at + j]);
                }
                for (int j = 0; j < k; j++) {
                    double q = Math.exp(logProbs[at + j]) / norm;
                    expected[r] += tau * tau * q * (Math.log(q) - logS[(int) tokens[at + j]]);
                }
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            double[] actual = DistillationLoss.topKRowSums(m, m.create(student, new Shape(B, T, V)), tokens, logProbs,
                    scored(batch), k, tau).toDoubleArray();
            for (int r = 0; r < B; r++) {
                assertEquals(expected[r], actual[r], 1e-12 * Math.abs(expected[r]), "row " + r);
            }
        }
    }
}
