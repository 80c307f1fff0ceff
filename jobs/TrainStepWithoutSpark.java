import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.spruce.bench.RandomModels;
import dev.spruce.data.TokenSample;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.train.GradientStep;
import dev.spruce.train.LoraTrainable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The LoRA step's compute alone, with no Spark: the shapes of `spruce bench train` and of the PyTorch twin in
 * jobs/cpu_parity.py (4 layers, heads of 64, vocab 8000, 16 samples of 128 tokens in micro-batches of 4,
 * {@code LoraSettings.reference()}), {@code GradientStep.gradients} timed step by step in one JVM, with the page
 * faults of each step (minflt of /proc/self/stat). With PROFILE the last step runs under libtorch's profiler and
 * its Chrome trace is written there (per-op self times, shapes). Run on spruce's classpath with bin/spruce's MKL
 * preload: {@code LD_PRELOAD=$(bin/mkl-vendor-shim) java -cp target/classes:$(cat target/classpath.txt)
 * jobs/TrainStepWithoutSpark.java THREADS [HIDDEN [STEPS [PROFILE]]]}.
 */
public final class TrainStepWithoutSpark {
    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        String profile = args.length > 3 ? args[3] : null;
        int intermediate = (int) Math.ceil(hidden * 8.0 / 3 / 64) * 64;
        LlamaConfig c = LlamaConfig.builder().vocabSize(8000).hiddenSize(hidden).numHiddenLayers(4)
                .numAttentionHeads(hidden / 64).numKeyValueHeads(hidden / 64).headDim(64)
                .intermediateSize(intermediate).build();
        SplittableRandom random = new SplittableRandom(1);
        List<TokenSample> samples = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            int[] ids = new int[128];
            for (int t = 0; t < ids.length; t++) {
                ids[t] = random.nextInt(c.vocabSize());
            }
            samples.add(TokenSample.of(i, ids));
        }
        try (LlamaModel model = LlamaModel.load(c, RandomModels.weights(c, 1), DataType.FLOAT32, Device.cpu())) {
            JniUtils.setNumThreads(threads);
            LoraTrainable trainable = new LoraTrainable(c, LoraSettings.reference());
            Map<String, double[]> initial = trainable.initialValues(1);
            double[][] values = trainable.shapes().keySet().stream().map(initial::get).toArray(double[][]::new);
            double[] seconds = new double[steps];
            for (int s = 0; s < steps; s++) {
                boolean profiled = profile != null && s == steps - 1;
                if (profiled) {
                    JniUtils.startProfile(false, true, false);
                }
                long faults = minorFaults();
                long t0 = System.nanoTime();
                GradientStep.gradients(model, trainable, values, samples, s + 1, 42, 4, 0);
                seconds[s] = (System.nanoTime() - t0) / 1e9;
                faults = minorFaults() - faults;
                if (profiled) {
                    JniUtils.stopProfile(profile);
                }
                System.out.printf("step %d: %.3f s, %.0f tokens/s, %d page faults%s%n", s + 1, seconds[s],
                        16 * 127 / seconds[s], faults, profiled ? " (profiled)" : "");
            }
            double[] sorted = Arrays.copyOf(seconds, profile != null ? steps - 1 : steps);
            Arrays.sort(sorted);
            System.out.printf("median %.3f s, best %.3f s (unprofiled steps)%n", sorted[sorted.length / 2], sorted[0]);
        }
    }

    private static long minorFaults() throws Exception {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[7]);
    }
}
