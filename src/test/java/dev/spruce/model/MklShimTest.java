package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The MKL vendor shim that bin/spruce preloads on AMD CPUs (bin/mkl-vendor-shim, src/main/native/mkl_vendor.c):
 * built by the script, mapped into a JVM that loads libtorch, and libtorch's float32 results stay on the float64
 * references with it, on any x86-64 CPU (on Intel's the shim answers what MKL already knows).
 */
class MklShimTest {
    private static final Pattern LINE = Pattern.compile("shim=(\\w+) gemm=(\\S+) gradients=(\\S+)");

    private static String run(List<String> command, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "did not finish: " + command);
        assertEquals(0, p.exitValue(), out);
        return out.trim();
    }

    private static Matcher probe(String preload) throws Exception {
        List<String> java = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"), MklShimProbe.class.getName()));
        String out = run(java, preload == null ? Map.of() : Map.of("LD_PRELOAD", preload));
        Matcher m = LINE.matcher(out);
        assertTrue(m.find(), out);
        return m;
    }

    @Test
    void thePreloadedShimIsMappedAndLibtorchStaysOnTheFloat64References() throws Exception {
        assumeTrue("amd64".equals(System.getProperty("os.arch")), "the shim is for x86-64");
        String shim = run(List.of("bash", "bin/mkl-vendor-shim", "--any-cpu"), Map.of("SPRUCE_MKL_SHIM", "auto"));
        assumeTrue(!shim.isEmpty(), "no C compiler on this machine: bin/mkl-vendor-shim builds nothing");
        assertTrue(shim.endsWith("target/native/libspruce-mkl-vendor.so"), shim);
        Matcher with = probe(shim);
        Matcher without = probe(null);
        assertEquals("true", with.group(1), "the shim is not mapped into the probe JVM");
        assertEquals("false", without.group(1));
        for (Matcher m : List.of(with, without)) {
            // float32 accumulation over 640 terms (seen: 1.1e-7 without the shim, 1.5e-7 with it)
            assertTrue(Double.parseDouble(m.group(2)) < 1e-6, "GEMM relative error " + m.group(2));
            // seen: 5.8e-7 and 1.4e-6, the float32 rounding of other kernels
            assertTrue(Double.parseDouble(m.group(3)) < 1e-5, "gradient relative error " + m.group(3));
        }
    }
}
