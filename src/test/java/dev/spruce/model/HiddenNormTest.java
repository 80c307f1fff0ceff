package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The two RMSNorm rules under a hidden mask ({@link ForwardHooks#hiddenNormOverKept()}), told apart by scale
 * invariance: a uniform mask α·1 scales the embedding and every sub-layer output by α, so the whole residual stream
 * is α times the unmasked one. A norm that averages over the full width undoes α (eps tiny), giving the unmasked
 * logits; one that divides by the kept mass Σm = α·d leaves a factor sqrt(α).
 */
class HiddenNormTest {
    private static final LlamaConfig C = TinyModels.builder(2, 4, 2).rmsNormEps(1e-30).build();

    @Test
    void aUniformMaskIsInvisibleToTheFullWidthNormOnly() {
        try (LlamaModel model = LlamaModel.load(C, WeightSource.of(C, TinyModels.randomWeights(C, 81)),
                DataType.FLOAT64, Device.cpu())) {
            double[] plain = logits(model, null, true);
            double[] fullWidth = logits(model, 0.5, false);
            double[] keptMass = logits(model, 0.5, true);
            assertTrue(relative(plain, fullWidth) < 1e-12, "full width: " + relative(plain, fullWidth));
            assertTrue(relative(plain, keptMass) > 1e-2, "kept mass: " + relative(plain, keptMass));
            // the default is today's rule
            assertTrue(ForwardHooks.NONE.hiddenNormOverKept());
        }
    }

    private static double[] logits(LlamaModel model, Double alpha, boolean overKept) {
        int[][] ids = TinyModels.randomIds(C, 2, 6, 82);
        try (NDManager step = NDManager.newBaseManager(Device.cpu())) {
            ForwardHooks hooks = new ForwardHooks() {
                @Override
                public NDArray hiddenMask() {
                    if (alpha == null) {
                        return null;
                    }
                    double[] m = new double[C.hiddenSize()];
                    Arrays.fill(m, alpha);
                    return step.create(m);
                }

                @Override
                public boolean hiddenNormOverKept() {
                    return overKept;
                }
            };
            return Djl.toDoubles(model.logits(step, new TokenBatch(ids, null, null), hooks));
        }
    }

    private static double relative(double[] a, double[] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(a[i]));
        }
        return diff / scale;
    }
}
