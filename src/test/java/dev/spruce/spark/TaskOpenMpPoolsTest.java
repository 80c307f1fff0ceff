package dev.spruce.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.spruce.model.OpenMpPoolsTest;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * Spark tasks that compute with libtorch leave no idle OpenMP pool on the executor's task threads. The session
 * is new, so its executor threads are too: a pool left by an earlier test cannot hide or fake one.
 */
class TaskOpenMpPoolsTest {
    /** The kernel name of Spark's task threads, and so of the OpenMP workers they start (15 characters). */
    private static final String TASK_THREAD_COMM = "Executor task l";

    /**
     * Native threads started by task threads: threads of that kernel name that are not Java task threads. Besides
     * OpenMP workers that counts the one worker of libtorch's pthreadpool (used by its quantized kernels only,
     * asleep otherwise), which setting the thread count starts on the first task's thread.
     */
    private static long nativeThreadsOfTaskThreads() {
        long javaTaskThreads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("Executor task launch")).count();
        return OpenMpPoolsTest.threadsNamed(TASK_THREAD_COMM) - javaTaskThreads;
    }

    @Test
    void tasksFreeTheirThreadsOpenMpPoolWhenTheyEnd() throws Exception {
        TestSpark.stop();
        // two CPUs per task: libtorch then runs two intra-op threads, one of them an OpenMP worker
        SparkSession spark = SparkSessions.create("spruce-omp-pools-test", "local[2]", false,
                Map.of("spark.task.cpus", "2", "spark.driver.bindAddress", "127.0.0.1"));
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            // a first job only sets the task device up (engine, thread count): what that starts stays by design
            sc.parallelize(List.of(1, 2), 2).map(i -> TaskDevice.current(true).toString()).collect();
            long setUp = nativeThreadsOfTaskThreads();
            List<Integer> threads = sc.parallelize(List.of(1, 2, 3, 4, 5, 6), 6).map(i -> {
                TaskDevice.current(true);
                try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
                    m.randomUniform(0f, 1f, new Shape(1 << 22)).exp().sum().getFloat();
                }
                return ai.djl.pytorch.jni.JniUtils.getNumThreads();
            }).collect();
            assertEquals(List.of(2, 2, 2, 2, 2, 2), threads, "each task ran libtorch on its two CPUs");
            long after = nativeThreadsOfTaskThreads();
            for (int i = 0; i < 200 && after != setUp; i++) {
                Thread.sleep(50); // released workers exit shortly after the task, not within it
                after = nativeThreadsOfTaskThreads();
            }
            assertEquals(setUp, after, "OpenMP workers left alive on finished task threads");
        } finally {
            spark.stop();
            SparkSession.clearActiveSession();
            SparkSession.clearDefaultSession();
        }
    }
}
