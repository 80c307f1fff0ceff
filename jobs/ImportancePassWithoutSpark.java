import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.spruce.bench.RandomModels;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TokenBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The importance pass's compute alone, with no Spark: the shapes of `spruce bench importance` and of the PyTorch twin
 * in jobs/cpu_parity.py (4 layers, vocab 8000, heads of 64, 32 samples of 128 tokens in micro-batches of 4, G of
 * the 28 linear weights accumulated in one leaf view, as GradientAccumulator does), timed pass by pass in one JVM.
 * It separates the speed of spruce's forward/backward on DJL from what running it inside Spark jobs adds. Run on
 * spruce's classpath with bin/spruce's MKL preload:
 * {@code LD_PRELOAD=$(bin/mkl-vendor-shim) java -cp target/classes:$(cat target/classpath.txt)
 * jobs/ImportancePassWithoutSpark.java THREADS [HIDDEN [PASSES]]}.
 */
public final class ImportancePassWithoutSpark {
    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int passes = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        int layers = 4;
        int intermediate = (int) Math.ceil(hidden * 8.0 / 3 / 64) * 64;
        LlamaConfig c = LlamaConfig.builder().vocabSize(8000).hiddenSize(hidden).numHiddenLayers(layers)
                .numAttentionHeads(hidden / 64).numKeyValueHeads(hidden / 64).headDim(64)
                .intermediateSize(intermediate).build();
        List<String> scored = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (String s : new String[] {TensorNames.Q, TensorNames.K, TensorNames.V, TensorNames.O,
                    TensorNames.GATE, TensorNames.UP, TensorNames.DOWN}) {
                scored.add(TensorNames.layer(l, s));
            }
        }
        SplittableRandom random = new SplittableRandom(1);
        int[][][] microBatches = new int[8][4][128];
        for (int[][] b : microBatches) {
            for (int[] row : b) {
                for (int t = 0; t < row.length; t++) {
                    row[t] = random.nextInt(c.vocabSize());
                }
            }
        }
        try (LlamaModel model = LlamaModel.load(c, RandomModels.weights(c, 1), DataType.FLOAT32, Device.cpu());
             NDManager manager = NDManager.newBaseManager()) {
            JniUtils.setNumThreads(threads);
            for (int pass = 0; pass < passes; pass++) {
                long t0 = System.nanoTime();
                try (NDManager shard = manager.newSubManager()) {
                    LlamaModel leaves = model.leafView(shard, scored);
                    for (int[][] ids : microBatches) {
                        TokenBatch batch = TokenBatch.selfSupervised(ids);
                        try (NDManager step = shard.newSubManager(); AutoCloseable grad = Djl.gradScope(true)) {
                            NDArray logits = leaves.logits(step, batch, ForwardHooks.NONE);
                            Djl.backward(CausalLmLoss.sumOfRowMeans(step, logits, batch));
                        }
                    }
                }
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf("pass %d: %.3f s, %.0f tokens/s%n", pass + 1, s, 32 * 127 / s);
            }
        }
    }
}
