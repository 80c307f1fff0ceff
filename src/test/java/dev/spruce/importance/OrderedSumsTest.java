package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spruce.spark.TestSpark;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import scala.Tuple2;

/** Sums in the order of the second index, whatever the order and partitioning the parts arrive in. */
class OrderedSumsTest {
    /**
     * Parts of key 7 whose float64 sum depends on the order: in index order ((1e16 + 1) - 1e16) + 1 = 1, the 1 of
     * part 1 being absorbed; other orders give 0 or 2. Key 3 is a plain three-element sum.
     */
    private static List<Tuple2<Tuple2<Long, Integer>, double[]>> parts() {
        List<Tuple2<Tuple2<Long, Integer>, double[]>> parts = new ArrayList<>();
        double[] values = {1e16, 1.0, -1e16, 1.0};
        for (int i = 0; i < values.length; i++) {
            parts.add(new Tuple2<>(new Tuple2<>(7L, i), new double[] {values[i], i}));
        }
        for (int i = 0; i < 3; i++) {
            parts.add(new Tuple2<>(new Tuple2<>(3L, i), new double[] {0.5 * i, 1, 2}));
        }
        return parts;
    }

    @Test
    void sumsAreAddedInIndexOrderWhateverTheArrivalOrder() {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(TestSpark.session().sparkContext());
        Random random = new Random(11);
        for (int trial = 0; trial < 6; trial++) {
            List<Tuple2<Tuple2<Long, Integer>, double[]>> shuffled = parts();
            Collections.shuffle(shuffled, random);
            int inputPartitions = 1 + trial % 3;
            int reducePartitions = 1 + trial % 2;
            Map<Long, double[]> sums = OrderedSums.sum(sc.parallelizePairs(shuffled, inputPartitions), reducePartitions)
                    .collectAsMap();
            assertEquals(2, sums.size());
            assertArrayEquals(new double[] {1.0, 6.0}, sums.get(7L), 0.0, "trial " + trial);
            assertArrayEquals(new double[] {1.5, 3, 6}, sums.get(3L), 0.0, "trial " + trial);
        }
    }
}
