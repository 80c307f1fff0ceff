package dev.spruce.compresso;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The hard-concrete distribution of Louizos et al. as CoFi and Compresso use it: a unit with logit
 * {@code log_alpha} draws {@code u ~ U(eps, 1-eps)}, {@code s = sigmoid((log u - log(1-u) + log_alpha) / beta)} and
 * keeps {@code z = clamp(s·(r - l) + l, 0, 1)}; it survives with probability
 * {@code P(z > 0) = sigmoid(log_alpha - beta·log(-l / r))}. Everything here is float64 host arithmetic; the
 * differentiable sample on the device is {@link MaskBinding}'s, with the noise drawn here.
 *
 * @param beta the temperature (2/3 by default)
 */
public record HardConcrete(double beta) {
    public static final double LIMIT_LEFT = -0.1;
    public static final double LIMIT_RIGHT = 1.1;
    public static final double EPSILON = 1e-6;
    /** Logits are clamped to [log 0.01, log 100] after every update, as the reference does. */
    public static final double LOG_ALPHA_MIN = Math.log(0.01);
    public static final double LOG_ALPHA_MAX = Math.log(100);
    /** The deterministic mask's soft score is sigmoid(log_alpha / beta · 0.8), the reference's constant. */
    public static final double DETERMINISTIC_SHARPNESS = 0.8;
    public static final HardConcrete DEFAULT = new HardConcrete(2.0 / 3.0);

    public HardConcrete {
        if (!(beta > 0 && Double.isFinite(beta))) {
            throw new IllegalArgumentException("compresso.temperature must be a positive number, got " + beta);
        }
    }

    public static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** P(z > 0) of a unit with logit {@code logAlpha}. */
    public double keepProbability(double logAlpha) {
        return sigmoid(logAlpha - beta * Math.log(-LIMIT_LEFT / LIMIT_RIGHT));
    }

    /** d P(z > 0) / d log_alpha. */
    public double keepProbabilityDerivative(double logAlpha) {
        double p = keepProbability(logAlpha);
        return p * (1 - p);
    }

    /** The logistic noise {@code log u - log(1-u)}, u ~ U(eps, 1-eps), of {@code n} units from {@code seed}. */
    public static double[] noise(long seed, int n) {
        SplittableRandom random = new SplittableRandom(seed);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double u = EPSILON + (1 - 2 * EPSILON) * random.nextDouble();
            out[i] = Math.log(u) - Math.log(1 - u);
        }
        return out;
    }

    /** The sample z of a unit given its noise {@code log u - log(1-u)}. */
    public double sample(double logAlpha, double noise) {
        double s = sigmoid((noise + logAlpha) / beta);
        return Math.min(1, Math.max(0, s * (LIMIT_RIGHT - LIMIT_LEFT) + LIMIT_LEFT));
    }

    /** Clamps logits into [{@link #LOG_ALPHA_MIN}, {@link #LOG_ALPHA_MAX}] in place. */
    public static void clamp(double[] logAlpha) {
        for (int i = 0; i < logAlpha.length; i++) {
            logAlpha[i] = Math.min(LOG_ALPHA_MAX, Math.max(LOG_ALPHA_MIN, logAlpha[i]));
        }
    }

    /** The expected number of zeros of a mask vector, {@code size - Σ P(z > 0)}, rounded half to even. */
    public long expectedZeros(double[] logAlpha) {
        double kept = 0;
        for (double a : logAlpha) {
            kept += keepProbability(a);
        }
        return (long) Math.rint(logAlpha.length - kept);
    }

    /**
     * The deterministic mask of one vector: soft scores {@code sigmoid(log_alpha / beta · 0.8)} with the
     * {@link #expectedZeros} lowest set to 0 (ties broken by the lower index, so the result is reproducible).
     */
    public double[] deterministic(double[] logAlpha) {
        int n = logAlpha.length;
        double[] z = new double[n];
        for (int i = 0; i < n; i++) {
            z[i] = sigmoid(logAlpha[i] / beta * DETERMINISTIC_SHARPNESS);
        }
        int zeros = (int) Math.max(0, Math.min(n, expectedZeros(logAlpha)));
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> z[a] != z[b] ? Double.compare(z[a], z[b]) : Integer.compare(a, b));
        for (int k = 0; k < zeros; k++) {
            z[order[k]] = 0;
        }
        return z;
    }
}
