package dev.spruce.train;

/**
 * AdamW with decoupled weight decay, in double, exactly as {@code torch.optim.AdamW} (no amsgrad): decay
 * {@code p *= 1 - lr·wd}; {@code m = lerp(m, g, 1-β1)}; {@code v = β2·v + (1-β2)·g²}; then
 * {@code p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)}. Each parameter array counts its own updates t,
 * so parameters that start late (Compresso's masks after pre-pruning) correct their bias as a fresh optimizer.
 */
public final class AdamW {
    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private final double[][] expAvg;
    private final double[][] expAvgSq;
    private final long[] steps;

    /** An optimizer resuming from saved moments after {@code step} updates of every parameter. */
    public AdamW(double beta1, double beta2, double epsilon, double weightDecay, double[][] expAvg,
                 double[][] expAvgSq, long step) {
        this(beta1, beta2, epsilon, weightDecay, expAvg, expAvgSq, uniform(expAvg.length, step));
    }

    /** An optimizer resuming from saved moments after {@code steps[p]} updates of parameter p. */
    public AdamW(double beta1, double beta2, double epsilon, double weightDecay, double[][] expAvg,
                 double[][] expAvgSq, long[] steps) {
        if (steps.length != expAvg.length) {
            throw new IllegalArgumentException(steps.length + " step counts for " + expAvg.length + " parameters");
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
        this.expAvg = expAvg;
        this.expAvgSq = expAvgSq;
        this.steps = steps.clone();
    }

    private static long[] uniform(int n, long step) {
        long[] s = new long[n];
        java.util.Arrays.fill(s, step);
        return s;
    }

    /** A fresh optimizer (zero moments) for parameters of the sizes of {@code params}. */
    public static AdamW fresh(double beta1, double beta2, double epsilon, double weightDecay, double[][] params) {
        double[][] m = new double[params.length][];
        double[][] v = new double[params.length][];
        for (int p = 0; p < params.length; p++) {
            m[p] = new double[params[p].length];
            v[p] = new double[params[p].length];
        }
        return new AdamW(beta1, beta2, epsilon, weightDecay, m, v, 0);
    }

    /** One update of {@code params} in place with gradients {@code grads} at learning rate {@code lr}. */
    public void update(double[][] params, double[][] grads, double lr) {
        double[] rates = new double[params.length];
        double[] decays = new double[params.length];
        java.util.Arrays.fill(rates, lr);
        java.util.Arrays.fill(decays, weightDecay);
        update(params, grads, rates, decays, null);
    }

    /**
     * One update of the parameters p with {@code active[p]} (all when null), each at its own rate (negative
     * rates ascend) and weight decay; inactive parameters and their moments and step counts stay as they are.
     */
    public void update(double[][] params, double[][] grads, double[] rates, double[] decays, boolean[] active) {
        for (int p = 0; p < params.length; p++) {
            if (active != null && !active[p]) {
                continue;
            }
            long step = ++steps[p];
            double lr = rates[p];
            double biasCorrection1 = 1 - Math.pow(beta1, step);
            double biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
            double stepSize = lr / biasCorrection1;
            double decay = 1 - lr * decays[p];
            double[] w = params[p];
            double[] g = grads[p];
            double[] m = expAvg[p];
            double[] v = expAvgSq[p];
            for (int i = 0; i < w.length; i++) {
                w[i] *= decay;
                m[i] += (g[i] - m[i]) * (1 - beta1);
                v[i] = v[i] * beta2 + (1 - beta2) * g[i] * g[i];
                w[i] -= stepSize * m[i] / (Math.sqrt(v[i]) / biasCorrection2Sqrt + epsilon);
            }
        }
    }

    /** First moments (torch {@code exp_avg}), live. */
    public double[][] expAvg() {
        return expAvg;
    }

    /** Second moments (torch {@code exp_avg_sq}), live. */
    public double[][] expAvgSq() {
        return expAvgSq;
    }

    /** Updates applied so far to the parameter updated most (every parameter, unless groups start late). */
    public long step() {
        long most = 0;
        for (long s : steps) {
            most = Math.max(most, s);
        }
        return most;
    }

    /** Updates applied so far, per parameter. */
    public long[] steps() {
        return steps.clone();
    }
}
