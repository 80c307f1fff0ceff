package dev.spruce.spark;

import java.io.File;
import java.io.IOException;
import org.apache.spark.TaskContext;

/**
 * Fault injection for resilience tests and drills: when the Spark local property
 * {@code spruce.inject.failOnce.<stage>} names a marker file path on a file system every executor sees,
 * the first task of that stage to create the marker fails once; Spark retries it. With
 * {@code spruce.inject.killExecutorOnce.<stage>} the first such task instead ends its executor's JVM at once (as
 * the OS would on memory exhaustion), so Spark loses the executor, its cached model and its shuffle files; never
 * in the driver's JVM. Off unless set.
 */
public final class FailureInjection {
    public static final String PROPERTY_PREFIX = "spruce.inject.failOnce.";
    public static final String KILL_PREFIX = "spruce.inject.killExecutorOnce.";

    private FailureInjection() {}

    public static void maybeFail(String stage) {
        TaskContext tc = TaskContext.get();
        if (tc == null) {
            return;
        }
        String kill = tc.getLocalProperty(KILL_PREFIX + stage);
        if (kill != null && !kill.isEmpty() && !"driver".equals(org.apache.spark.SparkEnv.get().executorId())) {
            try {
                if (new File(kill).createNewFile()) {
                    Runtime.getRuntime().halt(137);
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot create failure-injection marker " + kill, e);
            }
        }
        String marker = tc.getLocalProperty(PROPERTY_PREFIX + stage);
        if (marker == null || marker.isEmpty()) {
            return;
        }
        try {
            if (new File(marker).createNewFile()) {
                throw new IllegalStateException("injected failure in " + stage + " (partition " + tc.partitionId()
                        + ", attempt " + tc.attemptNumber() + ")");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot create failure-injection marker " + marker, e);
        }
    }
}
