package dev.spruce.spark;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.spruce.model.OpenMpPools;
import dev.spruce.model.TorchNatives;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The device of the running Spark task: the GPU Spark assigned to it ({@code spark.task.resource.gpu.amount}),
 * else the CPU. Also sizes PyTorch's intra-op thread pool to the task's CPUs, so task slots times threads
 * does not oversubscribe the executor, and frees the task thread's OpenMP pool when the task ends
 * ({@link OpenMpPools}), so idle pools of earlier tasks do not slow the running ones.
 */
public final class TaskDevice {
    private static volatile int configuredThreads;
    /** The task attempt whose end already frees this thread's OpenMP pool. */
    private static final ThreadLocal<Long> RELEASING = new ThreadLocal<>();

    private TaskDevice() {}

    /** The GPU address assigned to the current task, or null (driver code, local mode, CPU clusters). */
    public static String gpuAddress() {
        TaskContext tc = TaskContext.get();
        if (tc == null) {
            return null;
        }
        scala.Option<ResourceInformation> gpu = tc.resources().get("gpu");
        if (gpu.isEmpty() || gpu.get().addresses().length == 0) {
            return null;
        }
        return gpu.get().addresses()[0];
    }

    /** The device for the current task; {@code cpuOnly} forces the CPU even where a GPU was assigned. */
    public static Device current(boolean cpuOnly) {
        configureThreads();
        releasePoolAtTaskEnd();
        String gpu = gpuAddress();
        if (gpu == null || cpuOnly) {
            return Device.cpu();
        }
        return Device.gpu(Integer.parseInt(gpu.trim()));
    }

    private static void releasePoolAtTaskEnd() {
        TaskContext tc = TaskContext.get();
        if (tc == null) {
            return;
        }
        Long attempt = tc.taskAttemptId();
        if (!attempt.equals(RELEASING.get())) {
            RELEASING.set(attempt);
            // completion listeners run on the task's own thread, whose pool is the one to free
            tc.addTaskCompletionListener((TaskCompletionListener) ctx -> OpenMpPools.releaseThisThreadsPool());
        }
    }

    private static void configureThreads() {
        TaskContext tc = TaskContext.get();
        int cpus = tc == null ? Runtime.getRuntime().availableProcessors() : Math.max(1, tc.cpus());
        if (configuredThreads != cpus) {
            synchronized (TaskDevice.class) {
                if (configuredThreads != cpus) {
                    // JniUtils needs libtorch loaded, which happens when the engine is first created: a task
                    // may be the first DJL user of its JVM.
                    TorchNatives.prepare();
                    Engine.getEngine("PyTorch");
                    JniUtils.setNumThreads(cpus);
                    configuredThreads = cpus;
                }
            }
        }
    }
}
