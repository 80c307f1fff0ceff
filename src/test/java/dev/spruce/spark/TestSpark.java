package dev.spruce.spark;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.SparkSession;

/** One local Spark session shared by the tests of a JVM (starting Spark costs seconds). */
public final class TestSpark {
    private static SparkSession session;

    private TestSpark() {}

    /** local[2] with task retries (maxFailures 2), UI off; re-created if a test stopped it. */
    public static synchronized SparkSession session() {
        if (session == null || session.sparkContext().isStopped()) {
            // A job run through the CLI while no session was running started its own (local[2], no task retries);
            // getOrCreate would hand that one back, and the tests that inject failures rely on retries.
            scala.Option<SparkSession> leftover = SparkSession.getDefaultSession();
            if (leftover.isDefined() && !leftover.get().sparkContext().isStopped()) {
                leftover.get().stop();
            }
            SparkSession.clearActiveSession();
            SparkSession.clearDefaultSession();
            session = SparkSessions.create("spruce-test", "local[2,2]", false,
                    Map.of("spark.sql.shuffle.partitions", "4", "spark.driver.bindAddress", "127.0.0.1"));
            session.sparkContext().setLogLevel("WARN");
        }
        return session;
    }

    /**
     * How many Spark jobs started while {@code action} ran. A listener counts job starts; afterwards one marker job
     * in its own group runs, and since the listener bus delivers events in order, its start arriving means every
     * earlier start has been counted.
     */
    public static int jobsStartedDuring(Runnable action) {
        SparkContext sc = session().sparkContext();
        String group = "jobs-started-during-" + UUID.randomUUID();
        AtomicInteger jobs = new AtomicInteger();
        CountDownLatch marker = new CountDownLatch(1);
        SparkListener listener = new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart start) {
                Properties p = start.properties();
                if (p != null && group.equals(p.getProperty("spark.jobGroup.id"))) {
                    marker.countDown();
                } else {
                    jobs.incrementAndGet();
                }
            }
        };
        sc.addSparkListener(listener);
        try {
            action.run();
            sc.setJobGroup(group, "marker", false);
            try {
                JavaSparkContext.fromSparkContext(sc).parallelize(List.of(1), 1).count();
            } finally {
                sc.clearJobGroup();
            }
            if (!marker.await(60, TimeUnit.SECONDS)) {
                throw new AssertionError("the marker job's start never reached the listener");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } finally {
            sc.removeSparkListener(listener);
        }
        return jobs.get();
    }

    /** Stops the shared session (a test that needs its own cluster calls this first). */
    public static synchronized void stop() {
        if (session != null) {
            session.stop();
            session = null;
        }
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
    }
}
