package dev.spruce.spark;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor-resident model cache: each executor JVM loads a model once per (model, precision, device)
 * and reuses it across tasks and jobs until {@link #release} is called. Models are shared read-only;
 * tasks that need gradients take a {@link LlamaModel#leafView leaf view}.
 */
public final class ExecutorModels {
    private record Key(String path, String dataType, String device) {}

    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    private static final Map<Key, LlamaModel> MODELS = new ConcurrentHashMap<>();
    private static final Map<Key, AtomicInteger> LOADS = new ConcurrentHashMap<>();

    private ExecutorModels() {}

    /** The cached model for the current task's device, loading it on first use. */
    public static LlamaModel get(ModelRef ref) {
        Device device = TaskDevice.current(ref.cpuOnly());
        Key key = new Key(ref.path(), ref.dataType(), device.toString());
        return MODELS.computeIfAbsent(key, k -> {
            LOADS.computeIfAbsent(k, x -> new AtomicInteger()).incrementAndGet();
            long started = System.nanoTime();
            LlamaModel model = ModelFiles.load(Fs.path(ref.path()), dataType(ref.dataType(), device), device);
            // at 7B this is minutes of the first task: the log says where they went
            LOG.info("executor model cache: loaded {} as {} on {} in {} s", ref.path(), model.dataType(), device,
                    String.format(java.util.Locale.ROOT, "%.2f", (System.nanoTime() - started) / 1e9));
            return model;
        });
    }

    /** How many times this JVM loaded the model (for any device): 1 once cached. */
    public static int loads(ModelRef ref) {
        int n = 0;
        for (Map.Entry<Key, AtomicInteger> e : LOADS.entrySet()) {
            if (e.getKey().path().equals(ref.path()) && e.getKey().dataType().equals(ref.dataType())) {
                n += e.getValue().get();
            }
        }
        return n;
    }

    /** Frees this JVM's copies of the model. */
    public static void release(ModelRef ref) {
        MODELS.entrySet().removeIf(e -> {
            if (e.getKey().path().equals(ref.path())) {
                e.getValue().close();
                return true;
            }
            return false;
        });
    }

    /** The model paths this JVM holds now, sorted: what a stage left behind (empty after every stage ends). */
    public static java.util.SortedSet<String> resident() {
        java.util.SortedSet<String> paths = new java.util.TreeSet<>();
        for (Key k : MODELS.keySet()) {
            paths.add(k.path());
        }
        return paths;
    }

    /** Every model path this JVM has loaded since it started, sorted (with {@link #resident}: what was freed). */
    public static java.util.SortedSet<String> loaded() {
        java.util.SortedSet<String> paths = new java.util.TreeSet<>();
        for (Key k : LOADS.keySet()) {
            paths.add(k.path());
        }
        return paths;
    }

    /**
     * Frees the models on the executors at the end of the stage that loaded them, as far as Spark can reach the
     * executors: one task per task slot, each releasing its JVM's copies. Spark cannot address every executor, so
     * on a cluster this is best effort (the scheduler spreads the tasks over the free slots); a missed executor
     * keeps the memory until its next release or the end of the application.
     */
    public static void releaseEverywhere(org.apache.spark.sql.SparkSession spark, ModelRef... refs) {
        org.apache.spark.api.java.JavaSparkContext sc =
                org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext());
        int slots = Math.max(1, sc.defaultParallelism());
        java.util.List<ModelRef> models = java.util.List.of(refs);
        sc.setJobDescription("release: " + models.size() + " resident model(s) on the executors");
        try {
            sc.parallelize(java.util.stream.IntStream.range(0, slots).boxed().toList(), slots)
                    .foreachPartition(it -> models.forEach(ExecutorModels::release));
        } catch (RuntimeException e) {
            // Called from finally blocks: a stage that failed (or a stopped context) must report its own error,
            // not this one; the executors' copies go with their JVMs.
            org.slf4j.LoggerFactory.getLogger("spruce").warn("release: could not free the resident models on the "
                    + "executors: {}", e.toString());
        } finally {
            sc.setJobDescription(null);
            models.forEach(ExecutorModels::release); // the driver's own copies (local mode shares this JVM)
        }
    }

    /**
     * The compute type a dtype setting names on {@code device}: {@code auto} is float16 on a GPU (half the
     * memory and the tensor-core rate; float32 is kept where precision needs it, see LlamaModel; bfloat16 would be
     * the better 16-bit type, but DJL's JNI cannot create it on any device, trap P2) and float32 on the CPU.
     */
    public static DataType dataType(String name, Device device) {
        return switch (name) {
            case "auto" -> Device.Type.GPU.equals(device.getDeviceType()) ? DataType.FLOAT16 : DataType.FLOAT32;
            case "float64" -> DataType.FLOAT64;
            case "float32" -> DataType.FLOAT32;
            case "float16" -> DataType.FLOAT16;
            case "bfloat16" -> DataType.BFLOAT16;
            default -> throw new IllegalArgumentException("unknown dtype '" + name + "': expected auto, float32, "
                    + "float64, float16 or bfloat16");
        };
    }
}
