package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Salience partials and member vectors against the formulas of llm-pruner.md §2.2-§2.4, written out directly. */
class SalienceTest {
    private static final int ROWS = 5;
    private static final int COLS = 7;
    private static final int SAMPLES = 6;

    private final SplittableRandom random = new SplittableRandom(20240727L);
    private final double[] w = gaussian(ROWS * COLS);
    private final double[][] perSample = new double[SAMPLES][];

    SalienceTest() {
        for (int n = 0; n < SAMPLES; n++) {
            perSample[n] = gaussian(ROWS * COLS);
        }
    }

    @Test
    void memberVectorsEqualTheSpecFormulas() {
        // g = (1/N) Σ gₙ and F = (1/N) Σ gₙ², as the reference computes them.
        double[] g = new double[ROWS * COLS];
        double[] fisher = new double[ROWS * COLS];
        for (double[] gn : perSample) {
            for (int i = 0; i < g.length; i++) {
                g[i] += gn[i] / SAMPLES;
                fisher[i] += gn[i] * gn[i] / SAMPLES;
            }
        }
        for (Criterion c : Criterion.values()) {
            if (c == Criterion.RANDOM) {
                continue;
            }
            double[] s = new double[ROWS * COLS];
            for (int i = 0; i < s.length; i++) {
                s[i] = switch (c) {
                    case L1 -> Math.abs(w[i]);
                    case L2 -> w[i] * w[i];
                    case VECTORIZE, PARAM_FIRST -> w[i] * g[i];
                    case PARAM_SECOND -> w[i] * fisher[i] * w[i];
                    case PARAM_MIX -> w[i] * g[i] - 0.5 * w[i] * fisher[i] * w[i];
                    case RANDOM -> throw new AssertionError();
                };
            }
            boolean signCancelling = c == Criterion.VECTORIZE;
            double[] rows = new double[ROWS];
            double[] cols = new double[COLS];
            double[] entries = new double[ROWS * COLS];
            for (int r = 0; r < ROWS; r++) {
                for (int k = 0; k < COLS; k++) {
                    double term = signCancelling ? s[r * COLS + k] : Math.abs(s[r * COLS + k]);
                    rows[r] += term;
                    cols[k] += term;
                    entries[r * COLS + k] = Math.abs(s[r * COLS + k]);
                }
            }
            if (signCancelling) {
                abs(rows);
                abs(cols);
            }
            Close.assertRelative(rows, memberVector(c, Axis.ROW), 1e-12, c + " rows");
            Close.assertRelative(cols, memberVector(c, Axis.COLUMN), 1e-12, c + " columns");
            Close.assertRelative(entries, memberVector(c, Axis.ENTRY), 1e-12, c + " entries");
        }
    }

    @Test
    void paramMixSalienceIsFirstOrderMinusHalfSecondOrder() {
        double[] gSum = sum(false);
        double[] gSqSum = sum(true);
        double[] first = Salience.partial(Criterion.PARAM_FIRST, w, gSum, null, ROWS, COLS, Axis.ROW);
        double[] second = Salience.partial(Criterion.PARAM_SECOND, w, null, gSqSum, ROWS, COLS, Axis.ROW);
        double[] mix = Salience.partial(Criterion.PARAM_MIX, w, gSum, gSqSum, ROWS, COLS, Axis.ROW);
        double[] expected = new double[mix.length];
        double[] actual = new double[mix.length];
        for (int i = 0; i < mix.length; i++) {
            expected[i] = first[i] / SAMPLES - 0.5 * (second[i] / SAMPLES);
            actual[i] = mix[i] / SAMPLES;
        }
        Close.assertRelative(expected, actual, 1e-12, "param_mix S");
        // The second-order term is not negligible on these tensors, so the identity says something.
        assertTrue(Math.abs(second[0]) > 0.01 * Math.abs(first[0]) || Math.abs(second[1]) > 0.01 * Math.abs(first[1]));
    }

    @Test
    void partialShapesFollowTheCriterion() {
        double[] gSum = sum(false);
        double[] gSqSum = sum(true);
        for (Criterion c : new Criterion[] {Criterion.RANDOM, Criterion.L1, Criterion.L2}) {
            assertNull(Salience.partial(c, w, gSum, gSqSum, ROWS, COLS, Axis.ROW), c.referenceName());
        }
        assertEquals(ROWS, Salience.partial(Criterion.VECTORIZE, w, gSum, null, ROWS, COLS, Axis.ROW).length);
        assertEquals(COLS, Salience.partial(Criterion.VECTORIZE, w, gSum, null, ROWS, COLS, Axis.COLUMN).length);
        assertEquals(ROWS * COLS,
                Salience.partial(Criterion.PARAM_FIRST, w, gSum, null, ROWS, COLS, Axis.COLUMN).length);
        // Vectorize ships signed sums: a row of W⊙G = [1, -3] ships -2, not 4.
        double[] shipped = Salience.partial(Criterion.VECTORIZE, new double[] {1, 3}, new double[] {1, -1}, null,
                1, 2, Axis.ROW);
        assertEquals(-2.0, shipped[0]);
    }

    @Test
    void badInputsNameWhatWasExpected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Salience.partial(Criterion.PARAM_FIRST, w, new double[3], null, ROWS, COLS, Axis.ROW));
        assertEquals("partial(param_first): gSum has 3 values, expected rows*cols = 5*7 = 35", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Salience.partial(Criterion.PARAM_MIX, w, sum(false), null, ROWS, COLS, Axis.ROW));
        assertEquals("partial(param_mix): gSqSum has no values, expected rows*cols = 5*7 = 35", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Salience.memberVector(Criterion.VECTORIZE, new double[ROWS], null, SAMPLES, ROWS, COLS,
                        Axis.COLUMN));
        assertEquals("memberVector(vectorize): summedPartial has 5 values, expected 7 (COLUMN sums of a 5x7 tensor)",
                e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Salience.memberVector(Criterion.PARAM_FIRST, new double[ROWS * COLS], null, 0, ROWS, COLS,
                        Axis.ROW));
        assertThrows(IllegalArgumentException.class,
                () -> Salience.memberVector(Criterion.RANDOM, null, w, SAMPLES, ROWS, COLS, Axis.ROW));
    }

    @Test
    void criteriaParseFromReferenceNames() {
        assertEquals(Criterion.PARAM_FIRST, Criterion.parse("param_first"));
        assertEquals(Criterion.VECTORIZE, Criterion.parse("Vectorize"));
        assertEquals(GroupReduction.PROD, GroupReduction.parse("prod"));
        assertEquals(GroupReduction.SUM, Criterion.PARAM_MIX.defaultGroupReduction());
        assertEquals(GroupReduction.MEAN, Criterion.L2.defaultGroupReduction());
        assertTrue(Criterion.PARAM_MIX.needsGradients() && Criterion.PARAM_MIX.needsSquaredGradients());
        assertTrue(!Criterion.PARAM_SECOND.needsGradients() && !Criterion.VECTORIZE.needsSquaredGradients());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Criterion.parse("taylor"));
        assertEquals("unknown importance criterion 'taylor', expected one of random, l1, l2, vectorize, "
                + "param_first, param_second, param_mix", e.getMessage());
    }

    private double[] memberVector(Criterion c, Axis axis) {
        double[] partial = Salience.partial(c, w, sum(false), sum(true), ROWS, COLS, axis);
        return Salience.memberVector(c, partial, w, SAMPLES, ROWS, COLS, axis);
    }

    private double[] sum(boolean squared) {
        double[] out = new double[ROWS * COLS];
        for (double[] gn : perSample) {
            for (int i = 0; i < out.length; i++) {
                out[i] += squared ? gn[i] * gn[i] : gn[i];
            }
        }
        return out;
    }

    private static void abs(double[] a) {
        for (int i = 0; i < a.length; i++) {
            a[i] = Math.abs(a[i]);
        }
    }

    private double[] gaussian(int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller: SplittableRandom has no nextGaussian on Java 17.
            a[i] = Math.sqrt(-2 * Math.log(1 - random.nextDouble())) * Math.cos(2 * Math.PI * random.nextDouble());
        }
        return a;
    }
}
