package dev.spruce.eval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.eval.scoring.ModelResult;
import dev.spruce.eval.scoring.TaskMetrics;
import dev.spruce.eval.tasks.McMetric;
import dev.spruce.io.Fs;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalReportTest {
    @TempDir
    Path dir;

    private static Map<String, Double> perplexities(double wikitext2, double ptb) {
        Map<String, Double> ppl = new LinkedHashMap<>();
        ppl.put("wikitext2", wikitext2);
        ppl.put("ptb", ptb);
        return ppl;
    }

    private static EvalReport report() {
        ModelResult base = new ModelResult("llama-7b", 6_738_415_616L, perplexities(12.62, 22.14),
                List.of(new TaskMetrics("boolq", McMetric.ACC, 3270, 0.7318, 0.0078, null, null),
                        new TaskMetrics("hellaswag", McMetric.ACC_NORM, 10042, 0.5700, 0.0049, 0.6700, 0.0047)),
                Map.of(), Map.of());
        ModelResult pruned = new ModelResult("pruned-20%", 5_422_977_024L, perplexities(17.58, 30.11),
                List.of(new TaskMetrics("boolq", McMetric.ACC, 3270, 0.6462, 0.0084, null, null),
                        new TaskMetrics("hellaswag", McMetric.ACC_NORM, 10040, 0.5300, 0.0050, 0.6880, 0.0046)),
                Map.of("hellaswag", 2L),
                Map.of("I believe the meaning of life is", " to find ```joy```."));
        return new EvalReport(List.of(base, pruned));
    }

    @Test
    void writesJsonMarkdownAndChartsAtomically() throws IOException {
        Path target = dir.resolve("report");
        report().write(Fs.path(target.toString()), false);

        String md = Files.readString(target.resolve(EvalReport.MARKDOWN_FILE));
        assertTrue(md.contains("| model | parameters | wikitext2 PPL | ptb PPL | boolq acc | hellaswag acc_norm | average |\n"
                + "|---|---:|---:|---:|---:|---:|---:|\n"
                + "| llama-7b | 6.74B | 12.62 | 22.14 | 73.18 | 67.00 | 70.09 |\n"
                + "| pruned-20% | 5.42B | 17.58 | 30.11 | 64.62 | 68.80 | 66.71 |\n"), md);
        assertTrue(md.contains("| llama-7b / boolq | 3270 | 73.18 | 0.78 | – | – |\n"), md);
        assertTrue(md.contains("| model | hellaswag |\n|---|---:|\n| llama-7b | 0 |\n| pruned-20% | 2 |\n"), md);
        assertTrue(md.contains("### pruned-20%\n\nPrompt:\n\n```\nI believe the meaning of life is\n```\n\n"
                + "Output:\n\n````\n to find ```joy```.\n````\n"), md);

        JsonNode json = new ObjectMapper().readTree(target.resolve(EvalReport.JSON_FILE).toFile());
        JsonNode pruned = json.get("models").get(1);
        assertEquals("pruned-20%", pruned.get("name").asText());
        assertEquals(5_422_977_024L, pruned.get("parameters").asLong());
        assertEquals(30.11, pruned.get("perplexities").get("ptb").asDouble());
        assertEquals(0.6671, pruned.get("averageAccuracy").asDouble(), 1e-12);
        assertEquals("acc_norm", pruned.get("tasks").get(1).get("reportedMetric").asText());
        assertTrue(pruned.get("tasks").get(0).get("accNorm").isNull());
        assertEquals(2, pruned.get("skippedRecords").get("hellaswag").asInt());

        for (String chart : List.of(EvalReport.PERPLEXITY_CHART, EvalReport.ACCURACY_CHART)) {
            BufferedImage image = ImageIO.read(target.resolve(chart).toFile());
            assertEquals(EvalReport.CHART_WIDTH, image.getWidth(), chart);
            assertEquals(EvalReport.CHART_HEIGHT, image.getHeight(), chart);
            assertTrue(countPixels(image, 0x4E79A7) > 1000, chart + " has bars of the first model");
            assertTrue(countPixels(image, 0xF28E2B) > 1000, chart + " has bars of the second model");
        }
        try (var listing = Files.list(dir)) {
            assertEquals(List.of(target), listing.toList(), "no staging directory is left behind");
        }
    }

    @Test
    void consoleTableIsFixedWidth() {
        String table = report().consoleTable();
        String[] lines = table.split("\n");
        assertEquals("model       parameters  wikitext2 PPL  ptb PPL  boolq acc  hellaswag acc_norm  average", lines[0]);
        assertEquals("llama-7b" + " ".repeat(9) + "6.74B" + " ".repeat(10) + "12.62" + " ".repeat(4) + "22.14"
                + " ".repeat(6) + "73.18" + " ".repeat(15) + "67.00" + " ".repeat(4) + "70.09", lines[2]);
        assertEquals(lines[0].length(), lines[3].length());
    }

    @Test
    void refusesToOverwriteUnlessAsked() throws IOException {
        Path target = dir.resolve("existing");
        Files.createDirectories(target);
        org.apache.hadoop.fs.Path path = Fs.path(target.toString());
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> report().write(path, false));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        report().write(path, true);
        assertTrue(Files.exists(target.resolve(EvalReport.MARKDOWN_FILE)));
    }

    @Test
    void modelWithoutZeroShotTasksHasNoAccuracyChart() {
        EvalReport pplOnly = new EvalReport(List.of(new ModelResult("tiny", 15_300, perplexities(40.0, 90.0),
                List.of(), Map.of(), Map.of())));
        assertFalse(pplOnly.accuracyChart().isPresent());
        assertTrue(pplOnly.perplexityChart().isPresent());
        assertTrue(pplOnly.markdown().contains("| tiny | 15.3K | 40.00 | 90.00 |\n"), pplOnly.markdown());
    }

    private static int countPixels(BufferedImage image, int rgb) {
        int count = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xFFFFFF) == rgb) {
                    count++;
                }
            }
        }
        return count;
    }
}
