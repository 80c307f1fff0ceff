package dev.spruce.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.network.util.JavaUtils;

/**
 * What one executor has for a stage, known on the driver before anything is loaded.
 *
 * <ul>
 *   <li>GPU executor ({@code spark.executor.resource.gpu.amount} >= 1, not cpu-only, not local mode): tensors go to
 *       each GPU's device memory ({@code memory.gpu-memory}; 0 = unknown, then only the heap is checked), the heap
 *       is {@code spark.executor.memory} less Spark's reserved 300 MiB; one model per GPU, shared by the tasks that
 *       run on that GPU at once (1 / {@code spark.task.resource.gpu.amount}).</li>
 *   <li>CPU executor on a cluster: the heap as above, and libtorch's tensors (native memory) in
 *       {@code spark.executor.memoryOverhead} (default max(384 MiB, 10% of the executor memory)), which is what
 *       YARN and Kubernetes add to the container for off-heap memory (a standalone master enforces no overhead:
 *       there it is unknown, and unchecked, unless set); one model per JVM shared by
 *       {@code spark.executor.cores / spark.task.cpus} concurrent tasks.</li>
 *   <li>Local mode ({@code local[N]}): the driver JVM is the executor: its max heap less 300 MiB, and native memory
 *       = physical RAM (MemTotal of /proc/meminfo) less the max heap; N concurrent tasks.</li>
 * </ul>
 *
 * @param gpuBytes    device memory per GPU, 0 when unknown (GPU executors only)
 * @param heapBytes   JVM heap available to spruce's arrays
 * @param nativeBytes native memory for libtorch's tensors on a CPU executor
 * @param tasks       concurrent tasks that share one resident model (per GPU, or per JVM)
 * @param source      where the numbers came from, for the message
 */
public record ExecutorShape(boolean gpu, long gpuBytes, long heapBytes, long nativeBytes, int tasks, String source) {
    public static final long MIB = 1L << 20;
    public static final long GIB = 1L << 30;
    /** Spark's reserved system memory, taken off every executor heap (RESERVED_SYSTEM_MEMORY_BYTES). */
    public static final long SPARK_RESERVED = 300 * MIB;

    /** Device memory of common data-centre GPUs as nvidia-smi reports it (MiB), for {@code memory.gpu-memory}. */
    public static final Map<String, Long> GPUS = Map.ofEntries(
            Map.entry("t4", 15360L), Map.entry("v100-16gb", 16384L), Map.entry("v100-32gb", 32768L),
            Map.entry("a10g", 23028L), Map.entry("l4", 23034L), Map.entry("l40s", 46068L),
            Map.entry("a100-40gb", 40960L), Map.entry("a100-80gb", 81920L), Map.entry("h100-80gb", 81559L),
            Map.entry("h100-94gb", 95830L), Map.entry("h200", 143771L));

    public ExecutorShape {
        if (tasks < 1) {
            throw new IllegalArgumentException("tasks per executor model must be >= 1, got " + tasks);
        }
    }

    /** The budget for tensors: device memory per GPU, or native memory on the CPU (0 = unknown). */
    public long tensorBytes() {
        return gpu ? gpuBytes : nativeBytes;
    }

    /** A size as Spark writes it (64g, 81559m, 512k; a plain number is {@code plainUnit}) or a GPU name. */
    public static long parseSize(String value, String setting, boolean plainIsMib) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        Long gpuMib = GPUS.get(v);
        if (gpuMib != null) {
            return gpuMib * MIB;
        }
        try {
            if (v.matches("\\d+")) {
                return plainIsMib ? Long.parseLong(v) * MIB : Long.parseLong(v);
            }
            return JavaUtils.byteStringAsBytes(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(setting + " = '" + value + "': expected a size such as 80g or 81559m"
                    + (setting.contains("gpu") ? " or a GPU name " + new java.util.TreeSet<>(GPUS.keySet()) : ""), e);
        }
    }

    /** The shape of the executors of a Spark configuration; {@code gpuMemory} is memory.gpu-memory ("" = unknown). */
    public static ExecutorShape of(SparkConf conf, boolean cpuOnly, String gpuMemory) {
        String master = conf.get("spark.master", "local[*]");
        int taskCpus = conf.getInt("spark.task.cpus", 1);
        if (master.startsWith("local") && !master.startsWith("local-cluster")) {
            long heap = Runtime.getRuntime().maxMemory();
            long physical = physicalMemory();
            return new ExecutorShape(false, 0, heap - SPARK_RESERVED, Math.max(0, physical - heap),
                    Math.max(1, localThreads(master) / taskCpus), "local mode " + master + ": driver max heap "
                    + gib(heap) + ", native = physical " + gib(physical) + " - heap");
        }
        long heap = mib(conf.get("spark.executor.memory", "1g"), "spark.executor.memory");
        // YARN and Kubernetes kill a container past memory + overhead; standalone masters (and local-cluster)
        // enforce no overhead, so there the native budget is unknown unless it is set.
        boolean enforced = master.startsWith("yarn") || master.startsWith("k8s");
        long overhead = conf.contains("spark.executor.memoryOverhead")
                ? mib(conf.get("spark.executor.memoryOverhead"), "spark.executor.memoryOverhead")
                : !enforced ? 0
                : Math.max(384 * MIB, (long) (conf.getDouble("spark.executor.memoryOverheadFactor", 0.10) * heap));
        int cores = conf.getInt("spark.executor.cores", 1);
        int slots = Math.max(1, cores / taskCpus);
        double gpus = conf.getDouble("spark.executor.resource.gpu.amount", 0);
        boolean gpu = gpus >= 1 && !cpuOnly;
        String src = "spark.executor.memory " + gib(heap) + ", memoryOverhead " + (overhead > 0 ? gib(overhead)
                : "not enforced by " + master + " (native memory unchecked)") + ", cores " + cores
                + ", task.cpus " + taskCpus;
        if (!gpu) {
            return new ExecutorShape(false, 0, heap - SPARK_RESERVED, overhead, slots, src);
        }
        double taskGpu = conf.getDouble("spark.task.resource.gpu.amount", 1);
        int perGpu = (int) Math.max(1, Math.min(Math.floor(1 / taskGpu), Math.ceil(slots / gpus)));
        long device = gpuMemory == null || gpuMemory.isBlank() ? 0 : parseSize(gpuMemory, "memory.gpu-memory", false);
        return new ExecutorShape(true, device, heap - SPARK_RESERVED, overhead, perGpu, src + ", "
                + (int) gpus + " GPU(s), task gpu amount " + taskGpu + ", GPU memory "
                + (device == 0 ? "unknown (set spruce.memory.gpu-memory)" : gib(device)));
    }

    private static long mib(String value, String setting) {
        return parseSize(value, setting, true);
    }

    private static int localThreads(String master) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("local\\[(\\d+|\\*)").matcher(master);
        if (!m.find() || m.group(1).equals("*")) {
            return master.equals("local") ? 1 : Runtime.getRuntime().availableProcessors();
        }
        return Integer.parseInt(m.group(1));
    }

    /**
     * MemTotal of /proc/meminfo, or the container's cgroup limit when that is lower; where there is neither, the
     * JVM's max heap again (a native budget of 0).
     */
    static long physicalMemory() {
        long total = Long.MAX_VALUE;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    total = Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: no meminfo
        }
        for (String limit : new String[] {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
            try {
                String v = Files.readString(Path.of(limit)).trim();
                if (v.matches("\\d+")) {
                    total = Math.min(total, Long.parseLong(v));
                }
            } catch (IOException | NumberFormatException e) {
                // no such cgroup file, or "max": no limit
            }
        }
        return total == Long.MAX_VALUE ? Runtime.getRuntime().maxMemory() : total;
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) GIB);
    }
}
