package dev.spruce.importance;

import java.io.Serializable;
import java.util.Comparator;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import scala.Tuple2;

/**
 * Adds arrays per key in the order of a second index (the shard they come from, or their block), never in the
 * order the shuffle happens to deliver them. Floating-point addition is not associative, so {@code reduceByKey}
 * gives sums that differ in the last bits between runs; these are bit-identical between runs, executor layouts
 * and task retries for the same partitioning of the samples. Each reduce task streams its sorted records and
 * holds one running sum at a time.
 */
final class OrderedSums {
    private OrderedSums() {}

    /** Per key, the element-wise sum of its arrays, added in increasing order of the second index. */
    static JavaPairRDD<Long, double[]> sum(JavaPairRDD<Tuple2<Long, Integer>, double[]> parts, int partitions) {
        return sum(parts, new ByKey(partitions), DOUBLES);
    }

    /** How a part's values enter a float64 sum. */
    interface Summand<V> extends Serializable {
        /** A fresh float64 copy of the first part. */
        double[] first(V part);

        /** {@code sum += part}, element-wise, after checking the lengths agree. */
        void add(double[] sum, V part, long key);
    }

    static final Summand<double[]> DOUBLES = new Summand<>() {
        @Override
        public double[] first(double[] part) {
            return part.clone();
        }

        @Override
        public void add(double[] sum, double[] part, long key) {
            checkLength(sum, part.length, key);
            for (int i = 0; i < sum.length; i++) {
                sum[i] += part[i];
            }
        }
    };

    static final Summand<PartialBlock> BLOCKS = new Summand<>() {
        @Override
        public double[] first(PartialBlock part) {
            return part.toDoubles();
        }

        @Override
        public void add(double[] sum, PartialBlock part, long key) {
            checkLength(sum, part.length(), key);
            part.addInto(sum);
        }
    };

    private static void checkLength(double[] sum, int length, long key) {
        if (length != sum.length) {
            throw new IllegalStateException("parts of key " + key + " have " + sum.length + " and " + length
                    + " elements");
        }
    }

    /**
     * Per key, the element-wise sum of its parts in increasing order of the second index, placed by
     * {@code partitioner} (which must place a record by its key alone and accept the bare key too, so that
     * {@code lookup} on the result reads one partition). The reduce side streams: it holds the running sum of
     * one key and the part being added, never the partition's results.
     */
    static <V> JavaPairRDD<Long, double[]> sum(JavaPairRDD<Tuple2<Long, Integer>, V> parts, Partitioner partitioner,
                                               Summand<V> summand) {
        return parts.repartitionAndSortWithinPartitions(partitioner, new InOrder())
                .mapPartitionsToPair(it -> new Running<>(it, summand), true);
    }

    /** The sums of a key-sorted stream of parts, one key at a time. */
    private static final class Running<V> implements Iterator<Tuple2<Long, double[]>> {
        private final Iterator<Tuple2<Tuple2<Long, Integer>, V>> parts;
        private final Summand<V> summand;
        private Tuple2<Tuple2<Long, Integer>, V> pending;

        Running(Iterator<Tuple2<Tuple2<Long, Integer>, V>> parts, Summand<V> summand) {
            this.parts = parts;
            this.summand = summand;
            this.pending = parts.hasNext() ? parts.next() : null;
        }

        @Override
        public boolean hasNext() {
            return pending != null;
        }

        @Override
        public Tuple2<Long, double[]> next() {
            if (pending == null) {
                throw new NoSuchElementException();
            }
            long key = pending._1()._1();
            double[] sum = summand.first(pending._2());
            pending = null;
            while (parts.hasNext()) {
                Tuple2<Tuple2<Long, Integer>, V> next = parts.next();
                if (next._1()._1() != key) {
                    pending = next;
                    break;
                }
                summand.add(sum, next._2(), key);
            }
            return new Tuple2<>(key, sum);
        }
    }

    /** Places a record by its key alone, so all parts of a key meet in one reduce task. */
    static final class ByKey extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int partitions;

        ByKey(int partitions) {
            this.partitions = Math.max(1, partitions);
        }

        @Override
        public int numPartitions() {
            return partitions;
        }

        @Override
        public int getPartition(Object key) {
            return Math.floorMod(Long.hashCode(keyOf(key)), partitions);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ByKey b && b.partitions == partitions;
        }

        @Override
        public int hashCode() {
            return partitions;
        }
    }

    /** The sum's key of a shuffled record's key {@code (key, index)}, or of a bare key (as {@code lookup} passes). */
    static long keyOf(Object key) {
        if (key instanceof Tuple2<?, ?> t) {
            return (Long) t._1();
        }
        return (Long) key;
    }

    /** Key first, then the second index: the order the parts of a key are added in. */
    static final class InOrder implements Comparator<Tuple2<Long, Integer>>, Serializable {
        private static final long serialVersionUID = 1L;

        @Override
        public int compare(Tuple2<Long, Integer> a, Tuple2<Long, Integer> b) {
            int c = Long.compare(a._1(), b._1());
            return c != 0 ? c : Integer.compare(a._2(), b._2());
        }
    }
}
