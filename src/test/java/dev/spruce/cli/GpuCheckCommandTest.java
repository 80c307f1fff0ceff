package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code spruce gpu-check} on the CPU build and a machine without a GPU (the test machines): libtorch comes from the
 * class path, float32 agrees with float64 on the CPU, and the no-GPU line ends the run with exit code 0.
 */
class GpuCheckCommandTest {
    @Test
    void withoutAGpuTheCpuComparisonRunsAndTheBuildReportsNoGpuVisible() {
        CliRun.Result r = CliRun.spruce("gpu-check", "--mfu-tokens", "0");
        assertEquals(0, r.exit(), r.out() + r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.contains("cpu-build: loaded, no GPU visible"), r.out());
        assertEquals("gpu-check: ok", lines.get(lines.size() - 1), r.out());
        assertTrue(lines.contains("gpus: 0 (DJL), libtorch CUDA not available"), r.out());
        assertTrue(r.out().contains("djl 0.33.0, libtorch 2.5.1, pytorch-jni 2.5.1-0.33.0"), r.out());
        Matcher m = Pattern.compile("cpu float32 vs cpu float64: logits rel (\\S+), grad\\(\\S+\\) rel (\\S+), "
                + "tolerance 1e-04: ok").matcher(r.out());
        assertTrue(m.find(), r.out());
        for (int g = 1; g <= 2; g++) {
            double rel = Double.parseDouble(m.group(g).replace(",", ""));
            // float32 rounding shows (a comparison of a result with itself would print 0) and stays in tolerance.
            assertTrue(rel > 1e-9 && rel <= 1e-4, m.group(0));
        }
    }

    @Test
    void badStepCountIsOneLineNamingTheOption() {
        CliRun.Result r = CliRun.spruce("gpu-check", "--mfu-steps", "0");
        assertEquals(1, r.exit());
        assertEquals("gpu-check: --mfu-tokens must be >= 0 and --mfu-steps >= 1, got 2048 and 0", r.error());
    }
}
