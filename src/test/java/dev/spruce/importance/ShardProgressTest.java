package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A shard reports at every tenth of its samples and at its end, with the count, the rate and the time left. */
class ShardProgressTest {
    @Test
    void reportsEachTenthOnceAndTheEnd() {
        DistributedImportance.ShardProgress progress = new DistributedImportance.ShardProgress(1, 3, 25);
        List<String> lines = new ArrayList<>();
        for (int done = 0; done < 25; done += 4) {
            String line = progress.done(Math.min(4, 25 - done), 64L * Math.min(done + 4, 25));
            if (line != null) {
                lines.add(line);
            }
        }
        // 4, 8, 12, 16, 20, 24 and 25 of 25 cross tenths 1, 3, 4, 6, 8, 9 and 10.
        assertEquals(7, lines.size(), lines.toString());
        assertTrue(lines.get(2).matches("importance: shard 2/3: 12/25 samples, \\d+ tokens/s, about \\d+s left"),
                lines.get(2));
        assertTrue(lines.get(6).startsWith("importance: shard 2/3: 25/25 samples, ") && lines.get(6).endsWith(
                "about 0s left"), lines.get(6));
    }

    @Test
    void aOneSampleShardReportsOnce() {
        DistributedImportance.ShardProgress progress = new DistributedImportance.ShardProgress(0, 1, 1);
        assertTrue(progress.done(1, 64).startsWith("importance: shard 1/1: 1/1 samples"));
        DistributedImportance.ShardProgress many = new DistributedImportance.ShardProgress(0, 1, 100);
        assertNull(many.done(1, 64), "1 of 100 is not yet a tenth");
    }
}
