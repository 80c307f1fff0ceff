package dev.spruce.importance;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
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
        return parts.repartitionAndSortWithinPartitions(new ByKey(partitions), new InOrder())
                .mapPartitionsToPair(it -> {
                    List<Tuple2<Long, double[]>> out = new ArrayList<>();
                    Long current = null;
                    double[] sum = null;
                    while (it.hasNext()) {
                        Tuple2<Tuple2<Long, Integer>, double[]> next = it.next();
                        long key = next._1()._1();
                        if (current == null || current != key) {
                            if (current != null) {
                                out.add(new Tuple2<>(current, sum));
                            }
                            current = key;
                            sum = next._2().clone();
                        } else {
                            double[] part = next._2();
                            if (part.length != sum.length) {
                                throw new IllegalStateException("parts of key " + key + " have " + sum.length
                                        + " and " + part.length + " elements");
                            }
                            for (int i = 0; i < sum.length; i++) {
                                sum[i] += part[i];
                            }
                        }
                    }
                    if (current != null) {
                        out.add(new Tuple2<>(current, sum));
                    }
                    return out.iterator();
                });
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
            @SuppressWarnings("unchecked")
            Tuple2<Long, Integer> k = (Tuple2<Long, Integer>) key;
            return Math.floorMod(Long.hashCode(k._1()), partitions);
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
