package dev.spruce.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ai.djl.ndarray.types.DataType;
import dev.spruce.cli.CliRun;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.prune.PrunePlan;
import dev.spruce.spark.TestSpark;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command, conf/demo.conf, on the bundled model and data with a reduced workload. */
class DemoPipelineTest {
    @TempDir
    Path dir;

    private Path head(String file, int lines) throws Exception {
        Path out = dir.resolve(Path.of(file).getFileName());
        List<String> all = Files.readAllLines(Path.of(file), StandardCharsets.UTF_8);
        return Files.write(out, all.subList(0, lines), StandardCharsets.UTF_8);
    }

    @Test
    void demoPipelinePrunesAboutTwentyPercentRecoversAndPrintsTheTable() throws Exception {
        TestSpark.session();
        Path out = dir.resolve("demo");
        CliRun.Result r = CliRun.spruce("pipeline", "-c", "conf/demo.conf",
                "--set", "output.dir=" + out,
                "--set", "calibration.samples=8",
                "--set", "recover.train.max-steps=2",
                "--set", "recover.train.validation-size=16",
                "--set", "recover.train.eval-every=1",
                "--set", "evaluate.perplexity=[{name=heldout,path=\"" + head("data/heldout.txt", 20) + "\"}]",
                "--set", "evaluate.tasks=[{name=next-sentence,path=\"" + head("data/tasks/next-sentence.jsonl", 8)
                        + "\",format=generic},{name=last-word,path=\"" + head("data/tasks/last-word.jsonl", 8)
                        + "\",format=generic}]",
                "--set", "evaluate.generation.max-new-tokens=4");
        assertEquals(0, r.exit(), r.err());
        for (String model : new String[] {"base", "pruned", "recovered"}) {
            assertTrue(Pattern.compile("(?m)^\\s*" + model + "\\s").matcher(r.out()).find(), r.out());
        }
        Matcher before = Pattern.compile("params_before=(\\d+)").matcher(r.out());
        Matcher after = Pattern.compile("params_after=(\\d+)").matcher(r.out());
        assertTrue(before.find() && after.find(), r.out());
        double kept = Double.parseDouble(after.group(1)) / Double.parseDouble(before.group(1));
        assertTrue(kept <= 0.80 && kept > 0.78, "kept fraction " + kept);
        PrunePlan plan = PrunePlan.read(Fs.path(out.resolve("plan.json").toString()));
        assertEquals(plan.paramsAfter(), Long.parseLong(after.group(1)));
        try (LlamaModel m = ModelFiles.load(Fs.path(out.resolve("model").toString()), DataType.FLOAT32, Device.cpu())) {
            assertEquals(plan.paramsAfter(), m.parameterCount());
        }
        assertEquals(plan.paramsAfter(), LlamaConfig.read(Fs.path(out.resolve("recover/merged").toString()))
                .parameterCount());
        assertTrue(Files.exists(out.resolve("report/report.md")));
    }

    /**
     * The demo's recovery as shipped (importance on all 32 calibration windows, 60 distillation steps): the
     * recovered model's held-out perplexity is below the pruned model's. Only the tasks and generation are left out.
     */
    @Test
    void demoRecoveryLowersHeldOutPerplexity() throws Exception {
        TestSpark.session();
        Path out = dir.resolve("demo-full");
        CliRun.Result r = CliRun.spruce("pipeline", "-c", "conf/demo.conf",
                "--set", "output.dir=" + out,
                "--set", "pipeline.evaluate-base=false",
                "--set", "evaluate.tasks=[]",
                "--set", "evaluate.generation.prompts=[]");
        assertEquals(0, r.exit(), r.err());
        JsonNode models = new ObjectMapper().readTree(out.resolve("report/report.json").toFile()).path("models");
        double pruned = Double.NaN;
        double recovered = Double.NaN;
        for (JsonNode m : models) {
            double ppl = m.path("perplexities").path("heldout").asDouble();
            if (m.path("name").asText().equals("pruned")) {
                pruned = ppl;
            } else if (m.path("name").asText().equals("recovered")) {
                recovered = ppl;
            }
        }
        assertTrue(pruned > 141.23, "pruning should cost perplexity: " + pruned);
        assertTrue(recovered < pruned, "recovered " + recovered + " is not below pruned " + pruned);
        JsonNode recover = new ObjectMapper().readTree(out.resolve("run.json").toFile()).path("recover");
        assertEquals("distill", recover.path("objective").asText());
        assertEquals("text", recover.path("data_kind").asText());
        assertEquals("data/calibration.txt", recover.path("data").asText());
    }
}
