package dev.spruce.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.io.Fs;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** The reduction trees the trainer plans, without Spark: the numbers of RECOVERY.md and the driver bound. */
class OrderedReductionTest {
    private static final long GIB = 1L << 30;

    static ParameterLayout lora7b(List<String> modules) {
        LlamaConfig llama7b = LlamaConfig.read(Fs.path("conf/shapes/llama-7b.json"));
        return ParameterLayout.of(new LoraTrainable(llama7b, new LoraSettings(8, 16, 0.05, modules)));
    }

    static long parameters(ParameterLayout layout) {
        long n = 0;
        for (int p = 0; p < layout.names().size(); p++) {
            n += layout.size(p);
        }
        return n;
    }

    @Test
    void llama7bLoraTrafficAndTreesAreTheOnesRecoveryDocuments() {
        ParameterLayout qv = lora7b(List.of("q_proj", "v_proj"));
        ParameterLayout all = lora7b(LoraSettings.ALL_LINEAR);
        // Rank 8: A is 8 x in, B is out x 8; q, k, v, o are 4096 x 4096, gate and up 11008 x 4096, down 4096 x 11008.
        assertEquals(32L * 2 * (8 * 4096 + 4096 * 8), parameters(qv));
        assertEquals(4_194_304L, parameters(qv));
        assertEquals(32L * (4 * (8 * 4096 + 4096 * 8) + 3 * (8 * 4096 + 11008 * 8)), parameters(all));
        assertEquals(19_988_480L, parameters(all));

        long overhead = OrderedReduction.RESULT_OVERHEAD_BYTES;
        assertEquals(16_777_216L + 128 * 16 + overhead, OrderedReduction.resultBytes(qv, Traffic.FLOAT32, true));
        assertEquals(33_554_432L + 128 * 16 + overhead, OrderedReduction.resultBytes(qv, Traffic.FLOAT64, true));
        assertEquals(79_953_920L + 448 * 16 + overhead, OrderedReduction.resultBytes(all, Traffic.FLOAT32, true));
        assertEquals(159_907_840L + 448 * 16 + overhead, OrderedReduction.resultBytes(all, Traffic.FLOAT64, true));

        // 49 partitions under Spark's default spark.driver.maxResultSize of 1g: {depth, fan-in, driver results}.
        assertPlan(qv, Traffic.FLOAT32, 49, 2, 2, 25);
        assertPlan(qv, Traffic.FLOAT64, 49, 2, 4, 13);
        assertPlan(all, Traffic.FLOAT32, 49, 3, 3, 6);
        assertPlan(all, Traffic.FLOAT64, 49, 4, 3, 2);
        assertPlan(all, Traffic.FLOAT32, 6, 1, 1, 6);
        assertPlan(all, Traffic.FLOAT32, 7, 2, 2, 4);
        // The flat collect that treeAggregate does with few partitions: 49 all-module float32 results are 3.9 GB.
        OrderedReduction.Plan p = OrderedReduction.plan(49, OrderedReduction.resultBytes(all, Traffic.FLOAT32, true),
                GIB);
        assertTrue(p.flatBytes() > 3 * GIB, p.describe());
    }

    private static void assertPlan(ParameterLayout layout, Traffic traffic, int partitions, int depth, int fanIn,
                                   long driverResults) {
        OrderedReduction.Plan p = OrderedReduction.plan(partitions, OrderedReduction.resultBytes(layout, traffic,
                true), GIB);
        String what = traffic.label() + ", " + partitions + " partitions: " + p.describe();
        assertEquals(depth, p.depth(), what);
        assertEquals(fanIn, p.fanIn(), what);
        assertEquals(driverResults, p.driverResults(), what);
        assertTrue(p.driverBytes() <= GIB / 2, what);
    }

    /** Results left after {@code levels} levels of fan-in {@code fan}, by repeated grouping of a list. */
    private static long groupsLeft(long n, int fan, int levels) {
        long left = n;
        for (int l = 0; l < levels; l++) {
            long groups = 0;
            for (long start = 0; start < left; start += fan) {
                groups++;
            }
            left = groups;
        }
        return left;
    }

    @Test
    void atAnyPartitionCountTheDriverGetsAtMostHalfTheLimitWithTheFewestLevels() {
        long limit = 1_000_000;
        for (long resultBytes : new long[] {1_000, 70_001, 166_666, 250_000, 333_334, 500_000}) {
            long fit = (limit / 2) / resultBytes;
            long maxFan = Math.max(2, fit);
            for (int n = 1; n <= 700; n++) {
                OrderedReduction.Plan p = OrderedReduction.plan(n, resultBytes, limit);
                String what = n + " results of " + resultBytes + ": " + p.describe();
                assertTrue(p.driverBytes() <= limit / 2, what);
                assertEquals(groupsLeft(n, p.fanIn(), p.levels()), p.driverResults(), what);
                assertTrue(p.levels() == 0 || (p.fanIn() >= 2 && p.fanIn() <= maxFan), what);
                if (p.levels() > 0) {
                    // One level fewer, with any fan-in a reduce task may take, leaves too many for the driver.
                    for (int fan = 2; fan <= Math.min(maxFan, n); fan++) {
                        assertTrue(groupsLeft(n, fan, p.levels() - 1) > fit, what + ", fan-in " + fan);
                    }
                }
            }
        }
        assertEquals(1, OrderedReduction.plan(100_000, 1L << 40, 0).depth(), "0 is unlimited: a flat collect");
    }

    @Test
    void fullFineTuningOf7bCannotReachTheDriverAndIsRefusedWithTheSizes() {
        LlamaConfig llama7b = LlamaConfig.read(Fs.path("conf/shapes/llama-7b.json"));
        ParameterLayout full = ParameterLayout.of(new FullTrainable(llama7b));
        assertEquals(6_738_415_616L, parameters(full));
        long bytes = OrderedReduction.resultBytes(full, Traffic.FLOAT32, true);
        assertTrue(bytes > 4 * 6_738_415_616L, "float32 gradients take " + bytes);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OrderedReduction.plan(8, bytes, GIB));
        assertEquals(String.format(Locale.ROOT, "one task result takes up to %,d bytes, more than half of "
                + "spark.driver.maxResultSize = 1,073,741,824 bytes", bytes), e.getMessage());
    }
}
