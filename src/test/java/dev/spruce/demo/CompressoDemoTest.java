package dev.spruce.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.cli.CliRun;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.prune.PrunePlan;
import dev.spruce.spark.TestSpark;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * conf/compresso-demo.conf's pruning as shipped (400 steps of masks and LoRA on the bundled instructions): the
 * smaller model keeps 80% of the parameters to within half a point, as the masks' expected size converged to the
 * target, and it loads in spruce. Only the evaluation is left out.
 */
class CompressoDemoTest {
    @TempDir
    Path dir;

    @Test
    void theDemoReachesEightyPercentOfTheParametersAndItsModelLoads() throws Exception {
        TestSpark.session();
        Path out = dir.resolve("compresso-demo");
        CliRun.Result r = CliRun.spruce("prune", "-c", "conf/compresso-demo.conf", "--set", "output.dir=" + out);
        assertEquals(0, r.exit(), r.err());
        Matcher before = Pattern.compile("params_before=(\\d+)").matcher(r.out());
        Matcher after = Pattern.compile("params_after=(\\d+)").matcher(r.out());
        assertTrue(before.find() && after.find(), r.out());
        double kept = Double.parseDouble(after.group(1)) / Double.parseDouble(before.group(1));
        assertTrue(kept > 0.795 && kept < 0.805, "kept fraction " + kept);
        PrunePlan plan = PrunePlan.read(Fs.path(out.resolve("plan.json").toString()));
        assertEquals(plan.paramsAfter(), Long.parseLong(after.group(1)));
        LlamaConfig config = LlamaConfig.read(Fs.path(out.resolve("model").toString()));
        assertTrue(config.hiddenSize() < 192, "hidden dimensions removed: " + config.hiddenSize());
        try (LlamaModel m = ModelFiles.load(Fs.path(out.resolve("model").toString()), DataType.FLOAT32, Device.cpu())) {
            assertEquals(plan.paramsAfter(), m.parameterCount());
        }
        JsonNode run = new ObjectMapper().readTree(out.resolve("run.json").toFile()).path("compresso");
        assertEquals(400, run.path("steps").asInt());
        double expected = run.path("expected_params").asDouble() / Double.parseDouble(before.group(1));
        assertTrue(Math.abs(expected - 0.8) < 0.005, "expected kept fraction at the end " + expected);
    }
}
