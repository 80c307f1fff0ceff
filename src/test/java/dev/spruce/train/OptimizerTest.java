package dev.spruce.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** AdamW, clipping and the schedules against values worked out by hand. */
class OptimizerTest {
    @Test
    void linearCosineAndConstantSchedulesFollowHuggingFace() {
        // warm-up 2 of 5 steps: 0, 1/2, then linear 3/3, 2/3, 1/3 (HF never reaches 0 on a taken step).
        double[] linear = {0, 0.5, 1, 2.0 / 3, 1.0 / 3};
        double[] cosine = {0, 0.5, 1, 0.75, 0.25};
        for (int k = 0; k < 5; k++) {
            assertEquals(linear[k], LearningRateSchedule.LINEAR.factor(k, 2, 5), 1e-15, "linear " + k);
            assertEquals(cosine[k], LearningRateSchedule.COSINE.factor(k, 2, 5), 1e-15, "cosine " + k);
            assertEquals(k < 2 ? linear[k] : 1, LearningRateSchedule.CONSTANT.factor(k, 2, 5), 1e-15, "constant " + k);
        }
        assertEquals(1.0, LearningRateSchedule.LINEAR.factor(0, 0, 4), 0.0);
        assertEquals(0.25, LearningRateSchedule.LINEAR.factor(3, 0, 4), 0.0);
        assertEquals(LearningRateSchedule.COSINE, LearningRateSchedule.parse(" Cosine "));
    }

    @Test
    void clippingScalesByMaxNormOverNormPlusEpsilonOnlyAboveTheLimit() {
        double[][] g = {{3, -4}, {0}};
        assertEquals(5.0, GradientClipping.clip(g, 1.0), 0.0);
        double c = 1.0 / (5 + 1e-6);
        assertArrayEquals(new double[] {3 * c, -4 * c}, g[0], 1e-16);
        assertArrayEquals(new double[] {0}, g[1], 0.0);

        double[][] small = {{0.3, 0.4}};
        assertEquals(0.5, GradientClipping.clip(small, 1.0), 1e-16);
        assertArrayEquals(new double[] {0.3, 0.4}, small[0], 0.0);
        double[][] unclipped = {{30, 40}};
        assertEquals(50.0, GradientClipping.clip(unclipped, 0), 0.0);
        assertArrayEquals(new double[] {30, 40}, unclipped[0], 0.0);
    }

    @Test
    void twoAdamWStepsWithClippingAndWarmupMatchTheHandComputation() {
        double lr = 0.1;
        double wd = 0.01;
        double b1 = 0.9;
        double b2 = 0.999;
        double eps = 1e-8;
        double[][] p = {{0.5, -1.0, 2.0}};
        AdamW adam = AdamW.fresh(b1, b2, eps, wd, p);

        // Step 1 (index 0 of 5, warm-up 2): rate 0, so only the decay factor 1 - 0 and the moments change.
        double[][] g1 = {{3, -4, 0}};
        GradientClipping.clip(g1, 1.0);
        double lr1 = lr * LearningRateSchedule.LINEAR.factor(0, 2, 5);
        assertEquals(0.0, lr1, 0.0);
        adam.update(p, g1, lr1);
        assertArrayEquals(new double[] {0.5, -1.0, 2.0}, p[0], 0.0);
        double c1 = 1 / (5 + 1e-6);
        double[] m1 = {0.1 * 3 * c1, 0.1 * -4 * c1, 0};
        double[] v1 = {0.001 * 9 * c1 * c1, 0.001 * 16 * c1 * c1, 0};
        assertArrayEquals(m1, adam.expAvg()[0], 1e-16);
        assertArrayEquals(v1, adam.expAvgSq()[0], 1e-18);

        // Step 2 (index 1): rate 0.05; gradient (1, 1, -2) has norm sqrt(6) and is clipped to norm ~1.
        double[][] g2 = {{1, 1, -2}};
        assertEquals(Math.sqrt(6), GradientClipping.clip(g2, 1.0), 1e-15);
        double c2 = 1 / (Math.sqrt(6) + 1e-6);
        double lr2 = lr * LearningRateSchedule.LINEAR.factor(1, 2, 5);
        assertEquals(0.05, lr2, 1e-17);
        adam.update(p, g2, lr2);
        double[] g = {c2, c2, -2 * c2};
        double[] start = {0.5, -1.0, 2.0};
        for (int i = 0; i < 3; i++) {
            double m = 0.9 * m1[i] + 0.1 * g[i];
            double v = 0.999 * v1[i] + 0.001 * g[i] * g[i];
            double mHat = m / (1 - 0.9 * 0.9);
            double vHat = v / (1 - 0.999 * 0.999);
            double expected = start[i] * (1 - 0.05 * 0.01) - 0.05 * mHat / (Math.sqrt(vHat) + 1e-8);
            assertEquals(m, adam.expAvg()[0][i], 1e-16, "m[" + i + "]");
            assertEquals(v, adam.expAvgSq()[0][i], 1e-18, "v[" + i + "]");
            assertEquals(expected, p[0][i], 1e-12, "p[" + i + "]");
        }
        assertEquals(2, adam.step());
        // The third element's first gradient was 0, so the clipped scale cancels: m̂ = -0.2c/0.19 and
        // sqrt(v̂) = 2c·sqrt(0.001/0.001999), and it moves up by 0.05·(0.1/0.19)/sqrt(0.001/0.001999) (eps aside).
        assertEquals(2.0 * (1 - 0.0005) + 0.05 * (0.1 / 0.19) / Math.sqrt(0.001 / 0.001999), p[0][2], 1e-7);
    }

    /**
     * Groups: a parameter that starts at step 3 moves as a fresh AdamW started then (its own step count, so its
     * own bias correction); a negative rate ascends; the main group keeps the run's scheduled rate bit for bit.
     */
    @Test
    void lateAndAscendingGroupsMoveAsTheirOwnFreshOptimizers() {
        double[][] together = {{1.0}, {2.0}};
        AdamW groups = AdamW.fresh(0.9, 0.999, 1e-8, 0.0, together);
        double[][] late = {{2.0}};
        AdamW fresh = AdamW.fresh(0.9, 0.999, 1e-8, 0.0, late);
        double[] gradients = {0.3, -0.2, 0.5, 0.1, -0.4};
        for (int step = 1; step <= gradients.length; step++) {
            boolean lateActive = step >= 3;
            groups.update(together, new double[][] {{gradients[step - 1]}, {gradients[step - 1]}},
                    new double[] {0.01, -0.1}, new double[] {0, 0}, new boolean[] {true, lateActive});
            if (lateActive) {
                fresh.update(late, new double[][] {{-gradients[step - 1]}}, 0.1);
            }
        }
        // Ascent on g equals descent on -g.
        assertEquals(late[0][0], together[1][0], 0.0);
        assertArrayEquals(new long[] {5, 3}, groups.steps());
        ParameterGroup main = ParameterGroup.MAIN;
        assertEquals(0.1 * 0.3, main.rate(0.1 * 0.3, 0.1), 0.0);
        ParameterGroup masks = new ParameterGroup("masks", 0.5, false, 0, false, false, 4);
        assertEquals(0.5, masks.rate(0.03, 0.1), 0.0);
        assertEquals(-0.5, new ParameterGroup("l", 0.5, false, 0, false, true, 4).rate(0.03, 0.1), 0.0);
        assertEquals(!masks.active(3), masks.active(4));
    }
}
