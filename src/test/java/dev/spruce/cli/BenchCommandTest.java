package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.spark.TestSpark;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code spruce bench evaluate} runs on a random model and reports every workload at every partition count. */
class BenchCommandTest {
    @Test
    void benchEvaluateReportsPerplexityAndChoicesPerPartitionCount() {
        TestSpark.session();
        String[] r = EvaluateCommandTest.run("bench", "evaluate", "--layers", "1", "--hidden", "32", "--heads", "4",
                "--vocab", "300", "--requests", "8", "--length", "16", "--partitions", "1,2", "--repeats", "1");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("model: 1 layers, hidden 32, 4 heads (4 kv), intermediate 128, vocab 300, "), r[1]);
        List<String[]> rows = Arrays.stream(r[1].split("\n"))
                .filter(line -> line.startsWith("perplexity ") || line.startsWith("multiple choice "))
                .map(line -> line.replace("multiple choice", "multiple-choice").trim().split(" +"))
                .toList();
        assertEquals(4, rows.size(), r[1]);
        for (int i = 0; i < 4; i++) {
            String[] row = rows.get(i);
            assertEquals(i % 2 == 0 ? "perplexity" : "multiple-choice", row[0]);
            assertEquals(i < 2 ? "1" : "2", row[1], "partitions");
            assertEquals("8", row[2], "requests");
            if (i % 2 == 0) {
                assertEquals("120", row[3], "8 windows read 15 tokens each");
            }
            double seconds = Double.parseDouble(row[4]);
            double perSecond = Double.parseDouble(row[5]);
            // seconds are printed to 0.0005 and requests/s to 0.05.
            assertEquals(8, perSecond * seconds, perSecond * 0.0005 + seconds * 0.05 + 1e-9, "requests/s x seconds");
        }
    }

    @Test
    void benchImportanceAndTrainReportOneRowPerPartitionCount() {
        TestSpark.session();
        String[] small = {"--layers", "1", "--hidden", "16", "--heads", "2", "--vocab", "64", "--partitions", "1,2"};
        CliRun.Result importance = CliRun.spruce(concat(new String[] {"bench", "importance", "--samples", "4",
                "--length", "8"}, small));
        assertEquals(0, importance.exit(), importance.err());
        assertEquals(2, importance.out().lines().filter(l -> l.trim().startsWith("param_first")).count(),
                importance.out());
        assertTrue(importance.out().contains("tokens/s"), importance.out());
        List<String> lines = importance.out().lines().toList();
        List<String> header = Arrays.asList(lines.stream().filter(l -> l.startsWith("criterion")).findFirst()
                .orElseThrow().trim().split(" {2,}"));
        for (String row : lines.stream().filter(l -> l.trim().startsWith("param_first")).toList()) {
            String[] cells = row.trim().split(" {2,}");
            double gradients = Double.parseDouble(cells[header.indexOf("gradients s")]);
            double forwardBackward = Double.parseDouble(cells[header.indexOf("forward/backward s")]);
            // the shards' micro-batch loops are a part of the map stage (two decimals: a tiny model's can read 0.00)
            assertTrue(forwardBackward >= 0 && forwardBackward <= gradients, row);
        }
        CliRun.Result train = CliRun.spruce(concat(new String[] {"bench", "train", "--steps", "2", "--global-batch",
                "4", "--micro-batch", "2", "--length", "8"}, small));
        assertEquals(0, train.exit(), train.err());
        List<String> rows = train.out().lines().filter(l -> l.trim().startsWith("lora r8")).toList();
        assertEquals(2, rows.size(), train.out());
        List<String> trainHeader = Arrays.asList(train.out().lines().filter(l -> l.startsWith("trainable"))
                .findFirst().orElseThrow().trim().split(" {2,}"));
        for (String row : rows) {
            String[] cells = row.trim().split(" {2,}");
            assertEquals("2", cells[3], "steps: " + row);
            double median = Double.parseDouble(cells[trainHeader.indexOf("median step s")]);
            double wall = Double.parseDouble(cells[trainHeader.indexOf("wall s")]);
            // one of two steps' wall times (their mean, for two): more than nothing, less than the whole run
            assertTrue(median > 0 && median < wall, row);
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
