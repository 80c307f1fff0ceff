package dev.spruce.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Run in a forked JVM by {@link MklShimTest}, with or without the MKL vendor shim preloaded: whether the shim is
 * mapped into this process, a float32 GEMM large enough for MKL's blocked kernels against a float64 Java loop, and
 * the tiny model's float32 gradients against its float64 ones. Prints {@code shim=... gemm=... gradients=...}.
 */
public final class MklShimProbe {
    private MklShimProbe() {}

    public static void main(String[] args) throws Exception {
        boolean shim = Files.readString(Path.of("/proc/self/maps")).contains("libspruce-mkl-vendor");
        int n = 384;
        int k = 640;
        int m = 320;
        SplittableRandom random = new SplittableRandom(7);
        float[] a = new float[n * k];
        float[] b = new float[k * m];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) random.nextGaussian();
        }
        double gemmError = 0;
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            float[] c = manager.create(a, new Shape(n, k)).matMul(manager.create(b, new Shape(k, m))).toFloatArray();
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    double exact = 0;
                    double scale = 0;
                    for (int t = 0; t < k; t++) {
                        exact += (double) a[i * k + t] * b[t * m + j];
                        scale += Math.abs((double) a[i * k + t] * b[t * m + j]);
                    }
                    gemmError = Math.max(gemmError, Math.abs(c[i * m + j] - exact) / scale);
                }
            }
        }
        LlamaConfig config = TinyModels.builder(2, 4, 2).build();
        Map<String, double[]> w = TinyModels.randomWeights(config, 31);
        TokenBatch batch = GradientTest.batch(config);
        Map<String, double[]> exact;
        Map<String, double[]> single;
        try (LlamaModel model = LlamaModel.load(config, WeightSource.of(config, w), DataType.FLOAT64, Device.cpu())) {
            exact = GradientTest.gradients(model, batch, false);
        }
        try (LlamaModel model = LlamaModel.load(config, WeightSource.of(config, w), DataType.FLOAT32, Device.cpu())) {
            single = GradientTest.gradients(model, batch, false);
        }
        System.out.println("shim=" + shim + " gemm=" + gemmError + " gradients="
                + ComputePrecisionTest.relativeGradientError(single, exact));
    }
}
