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
import dev.spruce.io.Fs;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.OpenMpPools;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.SparkSessions;
import dev.spruce.spark.TaskDevice;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The importance pass's compute alone, with no Spark: the shapes of `spruce bench importance` and of the PyTorch twin
 * in jobs/cpu_parity.py (4 layers, vocab 8000, heads of 64, 32 samples of 128 tokens in micro-batches of 4, G of
 * the 28 linear weights accumulated in one leaf view, as GradientAccumulator does), timed pass by pass in one JVM.
 * It separates the speed of spruce's forward/backward on DJL from what running it inside Spark jobs adds. Run on
 * spruce's classpath with bin/spruce's MKL preload:
 * {@code LD_PRELOAD=$(bin/mkl-vendor-shim) java -cp target/classes:$(cat target/classpath.txt)
 * jobs/ImportancePassWithoutSpark.java THREADS [HIDDEN [PASSES [MODE]]]}.
 *
 * <p>MODE says where the passes run: {@code main} (default: the thread that loaded the model), {@code file} (the
 * same, the model written as safetensors and read back through ModelFiles), {@code thread} (one other thread, as
 * a Spark task thread is), {@code thread-released} (the same after freeing the loading thread's OpenMP pool),
 * {@code thread-released-each-pass} (that, and the pass thread's own pool freed after every pass, as at a task's
 * end), {@code task} (the whole run as the body of one Spark task, local[THREADS], spark.task.cpus=THREADS).
 */
public final class ImportancePassWithoutSpark {
    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int passes = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        String mode = args.length > 3 ? args[3] : "main";
        if (!List.of("main", "file", "thread", "thread-released", "thread-released-each-pass", "task").contains(mode)) {
            throw new IllegalArgumentException("MODE: expected main, file, thread, thread-released, "
                    + "thread-released-each-pass or task, got " + mode);
        }
        if (mode.equals("task")) {
            // the source launcher loads this file in its own class loader: Spark's executor must see it to run the task
            Thread.currentThread().setContextClassLoader(ImportancePassWithoutSpark.class.getClassLoader());
            SparkSession spark = SparkSessions.create("importance-pass-in-a-task", "local[" + threads + "]", false,
                    Map.of("spark.task.cpus", Integer.toString(threads), "spark.driver.bindAddress", "127.0.0.1"));
            try {
                JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(List.of(1), 1).map(i -> {
                    TaskDevice.current(true);
                    run(threads, hidden, passes, "main");
                    return 0;
                }).collect();
            } finally {
                spark.stop();
            }
        } else {
            run(threads, hidden, passes, mode);
        }
    }

    private static void run(int threads, int hidden, int passes, String mode) throws Exception {
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
        LlamaModel loaded;
        if (mode.equals("file")) {
            Path dir = Fs.path(Files.createTempDirectory("importance-pass").resolve("model").toString());
            RandomModels.write(dir, c, 1, DType.F32);
            loaded = ModelFiles.load(dir, DataType.FLOAT32, Device.cpu());
        } else {
            loaded = LlamaModel.load(c, RandomModels.weights(c, 1), DataType.FLOAT32, Device.cpu());
        }
        ExecutorService passThread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "importance-pass");
            t.setDaemon(true);
            return t;
        });
        try (LlamaModel model = loaded; NDManager manager = NDManager.newBaseManager()) {
            JniUtils.setNumThreads(threads);
            if (mode.startsWith("thread-released")) {
                OpenMpPools.releaseThisThreadsPool();
            }
            for (int p = 0; p < passes; p++) {
                int pass = p;
                Callable<Void> onePass = () -> {
                    onePass(model, manager, scored, microBatches, pass);
                    if (mode.equals("thread-released-each-pass")) {
                        OpenMpPools.releaseThisThreadsPool();
                    }
                    return null;
                };
                if (mode.startsWith("thread")) {
                    passThread.submit(onePass).get();
                } else {
                    onePass.call();
                }
            }
        } finally {
            passThread.shutdown();
        }
    }

    private static void onePass(LlamaModel model, NDManager manager, List<String> scored, int[][][] microBatches,
                                int pass) throws Exception {
        long t0 = System.nanoTime();
        try (NDManager shard = manager.newSubManager()) {
            LlamaModel leaves = model.leafView(shard, scored);
            for (int[][] ids : microBatches) {
                TokenBatch batch = TokenBatch.selfSupervised(ids);
                try (NDManager step = shard.newSubManager(); AutoCloseable grad = Djl.gradScope(true)) {
                    NDArray logits = leaves.nextTokenLogits(step, batch, ForwardHooks.NONE);
                    Djl.backward(CausalLmLoss.sumOfRowMeans(step, logits, batch));
                }
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("pass %d: %.3f s, %.0f tokens/s%n", pass + 1, s, 32 * 127 / s);
    }
}
