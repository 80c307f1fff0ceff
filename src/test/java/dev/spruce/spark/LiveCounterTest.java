package dev.spruce.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.LongAccumulator;
import org.junit.jupiter.api.Test;

/** The driver's live total: the last heartbeat value of each running task plus the final values of finished ones. */
class LiveCounterTest {
    @Test
    void finishedTasksOfARealJobAddUpOnTheDriver() throws Exception {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(TestSpark.session().sparkContext());
        List<Long> seen = new CopyOnWriteArrayList<>();
        try (LiveCounter counter = new LiveCounter(sc.sc(), "test samples done", seen::add)) {
            LongAccumulator acc = counter.accumulator();
            sc.parallelize(List.of(1, 2, 3, 4, 5, 6, 7), 3).foreach(x -> acc.add(x));
            long deadline = System.currentTimeMillis() + 30_000;
            while (counter.total() < 28 && System.currentTimeMillis() < deadline) {
                Thread.sleep(20); // the listener bus delivers task ends asynchronously
            }
            assertEquals(28, counter.total());
            assertEquals(28L, seen.get(seen.size() - 1));
        }
    }

    @Test
    void runningReportsAreReplacedAndThenCountedOnce() {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(TestSpark.session().sparkContext());
        try (LiveCounter counter = new LiveCounter(sc.sc(), "test running", x -> { })) {
            counter.running(1, 5);
            counter.running(2, 3);
            counter.running(1, 9); // a later heartbeat of task 1
            assertEquals(12, counter.total());
            counter.finished(1, 10, true);
            counter.finished(2, 4, false); // a failed attempt's work is redone by its retry
            assertEquals(10, counter.total());
        }
    }
}
