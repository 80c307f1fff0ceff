package dev.spruce.train;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import scala.Tuple2;

/**
 * Adds one step's task results, keyed by partition index, in index order along a tree whose top level fits the
 * driver: every level but the last is a shuffle sorted by index in which each reduce task adds {@code fanIn}
 * consecutive partials, and the last level's few results are collected and added on the driver, again in index
 * order. Floating-point addition is not associative, so {@code treeAggregate} (which merges results as tasks
 * finish) differs in the last bits between runs; these sums are bit-identical between runs and task retries for
 * a given partitioning. Sums are made in float64; a reduce task's output crosses the network in the partials'
 * {@link Traffic}, so no level ships more bytes than the tasks did.
 */
final class OrderedReduction {
    /**
     * Spark's envelope around every task result (accumulator updates of the task metrics, executor metric peaks)
     * plus the Kryo framing of {@link StepTotals} and its key: a bound with room over the 1 to 2.5 KiB measured on
     * Spark 4.0 local mode ({@code TrainerTrafficTest}), negligible beside a 7B model's gradients.
     */
    static final long RESULT_OVERHEAD_BYTES = 16 * 1024;
    /** Kryo's and Java serialization's per-array framing (length and class), bounded. */
    static final long ARRAY_OVERHEAD_BYTES = 16;

    private OrderedReduction() {}

    /** The bytes one task result can take when serialized: gradients in {@code traffic}, or none. */
    static long resultBytes(ParameterLayout layout, Traffic traffic, boolean gradients) {
        long bytes = RESULT_OVERHEAD_BYTES;
        if (gradients) {
            for (int p = 0; p < layout.names().size(); p++) {
                bytes += (long) layout.size(p) * traffic.bytes() + ARRAY_OVERHEAD_BYTES;
            }
        }
        return bytes;
    }

    /**
     * How many results of {@code resultBytes} the driver takes in one action: half of {@code maxResultSize}
     * (Spark's {@code spark.driver.maxResultSize}, 0 = unlimited) over the result size; 0 when not even one fits.
     */
    static long driverResults(long resultBytes, long maxResultSize) {
        return maxResultSize == 0 ? Long.MAX_VALUE : (maxResultSize / 2) / resultBytes;
    }

    /**
     * The tree for {@code partitions} results of {@code resultBytes}: no shuffle level when they all fit the
     * driver at once, else the fewest levels, with the smallest fan-in for them, that leave at most
     * {@link #driverResults} for the driver. The fan-in is at most that count too (at least 2), so no reduce task
     * holds more partials than the driver would.
     *
     * @throws IllegalArgumentException when not one result fits, naming the sizes (the caller adds advice)
     */
    static Plan plan(int partitions, long resultBytes, long maxResultSize) {
        if (partitions < 1) {
            throw new IllegalArgumentException("a reduction needs at least one partition, got " + partitions);
        }
        long fit = driverResults(resultBytes, maxResultSize);
        if (fit < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "one task result takes up to %,d bytes, "
                    + "more than half of spark.driver.maxResultSize = %,d bytes", resultBytes, maxResultSize));
        }
        if (partitions <= fit) {
            return new Plan(partitions, resultBytes, maxResultSize, 0, 1);
        }
        long maxFan = Math.max(2, Math.min(fit, partitions));
        for (int levels = 1; ; levels++) {
            for (int fan = 2; fan <= maxFan; fan++) {
                if (remaining(partitions, fan, levels) <= fit) {
                    return new Plan(partitions, resultBytes, maxResultSize, levels, fan);
                }
            }
        }
    }

    /** Results left after {@code levels} levels of fan-in {@code fan}: ceil(partitions / fan^levels). */
    static long remaining(long partitions, int fan, int levels) {
        long left = partitions;
        for (int l = 0; l < levels; l++) {
            left = (left + fan - 1) / fan;
        }
        return left;
    }

    /**
     * A reduction tree.
     *
     * @param partitions    task results at the bottom
     * @param resultBytes   the most bytes one serialized result takes (gradients and Spark's envelope)
     * @param maxResultSize {@code spark.driver.maxResultSize} in bytes, 0 = unlimited
     * @param levels        shuffle levels before the driver (0: the driver collects the task results)
     * @param fanIn         partials each reduce task adds (1 without shuffle levels)
     */
    record Plan(int partitions, long resultBytes, long maxResultSize, int levels, int fanIn) {
        /** Levels of addition including the driver's: 1 for a flat collect. */
        int depth() {
            return levels + 1;
        }

        /** Results the driver collects in the step's one action. */
        long driverResults() {
            return remaining(partitions, fanIn, levels);
        }

        long driverBytes() {
            return driverResults() * resultBytes;
        }

        /** What a flat collect (or {@code treeAggregate} without levels) would send the driver. */
        long flatBytes() {
            return (long) partitions * resultBytes;
        }

        String describe() {
            return String.format(Locale.ROOT, "%d task results of up to %,d bytes, depth %d%s: the driver receives "
                    + "%d results, up to %,d bytes, of spark.driver.maxResultSize %s", partitions, resultBytes,
                    depth(), levels == 0 ? "" : " (fan-in " + fanIn + ")", driverResults(), driverBytes(),
                    maxResultSize == 0 ? "unlimited" : String.format(Locale.ROOT, "%,d", maxResultSize));
        }
    }

    /**
     * The sum of {@code partials} (at most one per key, keys 0 .. plan.partitions - 1) in key order; partials of
     * the reduce levels cross the network as {@code traffic}.
     */
    static StepTotals reduce(JavaPairRDD<Integer, StepTotals> partials, Plan plan, Traffic traffic) {
        JavaPairRDD<Integer, StepTotals> level = partials;
        long count = plan.partitions();
        for (int l = 0; l < plan.levels(); l++) {
            int groups = Math.toIntExact(remaining(count, plan.fanIn(), 1));
            int fan = plan.fanIn();
            level = level.repartitionAndSortWithinPartitions(new Groups(groups, fan)).mapPartitionsToPair(it -> {
                if (!it.hasNext()) {
                    return List.<Tuple2<Integer, StepTotals>>of().iterator();
                }
                Tuple2<Integer, StepTotals> first = it.next();
                StepTotals sum = StepTotals.empty().add(first._2());
                while (it.hasNext()) {
                    sum.add(it.next()._2());
                }
                return List.of(new Tuple2<>(first._1() / fan, sum.shipped(traffic))).iterator();
            });
            count = groups;
        }
        List<Tuple2<Integer, StepTotals>> top = new ArrayList<>(level.collect());
        top.sort((a, b) -> Integer.compare(a._1(), b._1()));
        StepTotals sum = StepTotals.empty();
        for (Tuple2<Integer, StepTotals> t : top) {
            sum.add(t._2());
        }
        return sum;
    }

    /** Places partial {@code i} in reduce task {@code i / fanIn}: each task adds consecutive partials. */
    static final class Groups extends Partitioner implements Serializable {
        private static final long serialVersionUID = 1L;
        private final int groups;
        private final int fanIn;

        Groups(int groups, int fanIn) {
            this.groups = groups;
            this.fanIn = fanIn;
        }

        @Override
        public int numPartitions() {
            return groups;
        }

        @Override
        public int getPartition(Object key) {
            return (Integer) key / fanIn;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Groups g && g.groups == groups && g.fanIn == fanIn;
        }

        @Override
        public int hashCode() {
            return 31 * groups + fanIn;
        }
    }
}
