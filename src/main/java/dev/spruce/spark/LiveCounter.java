package dev.spruce.spark;

import java.util.HashMap;
import java.util.Map;
import java.util.function.LongConsumer;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

/**
 * A counter that tasks add to while they run, read live on the driver. Spark only merges an accumulator into the
 * driver's value when a task ends, but executors report running tasks' values with every heartbeat
 * ({@code spark.executor.heartbeatInterval}, 10 s by default); this listener sums the latest value of each running
 * task and the final values of finished ones, so a stage of one long task still shows progress.
 */
public final class LiveCounter extends SparkListener implements AutoCloseable {
    private final SparkContext sc;
    private final LongAccumulator accumulator;
    private final LongConsumer onChange;
    private final Map<Long, Long> running = new HashMap<>();
    private long finished;

    /** Registers a new counter named {@code name}; {@code onChange} gets each new total, on the listener thread. */
    public LiveCounter(SparkContext sc, String name, LongConsumer onChange) {
        this.sc = sc;
        this.accumulator = sc.longAccumulator(name);
        this.onChange = onChange;
        sc.addSparkListener(this);
    }

    /** What tasks add to. */
    public LongAccumulator accumulator() {
        return accumulator;
    }

    /** The total seen so far: finished tasks plus the last report of each running one. */
    public synchronized long total() {
        long sum = finished;
        for (long v : running.values()) {
            sum += v;
        }
        return sum;
    }

    synchronized void running(long taskId, long value) {
        running.put(taskId, value);
    }

    synchronized void finished(long taskId, long value, boolean successful) {
        running.remove(taskId);
        if (successful) {
            finished += value;
        }
    }

    @Override
    public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
        boolean changed = false;
        for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> task
                : CollectionConverters.asJava(update.accumUpdates())) {
            Long value = valueOf(task._4());
            if (value != null) {
                running((Long) task._1(), value);
                changed = true;
            }
        }
        if (changed) {
            onChange.accept(total());
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.taskInfo() == null) {
            return;
        }
        Long value = valueOf(end.taskInfo().accumulables());
        if (value != null || running.containsKey(end.taskInfo().taskId())) {
            finished(end.taskInfo().taskId(), value == null ? 0 : value, end.taskInfo().successful());
            onChange.accept(total());
        }
    }

    private Long valueOf(scala.collection.Seq<AccumulableInfo> infos) {
        for (AccumulableInfo info : CollectionConverters.asJava(infos)) {
            if (info.id() == accumulator.id() && info.update().isDefined()) {
                return ((Number) info.update().get()).longValue();
            }
        }
        return null;
    }

    @Override
    public void close() {
        sc.removeSparkListener(this);
    }
}
