package dev.spruce.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * DJL trap P2 as it stands on DJL 0.33.0 / libtorch 2.5.1: the first bfloat16 array (here float32 converted with
 * {@code toType}) kills the JVM, because DJL's PyTorch JNI has no BF16 data type; the probe runs in a forked JVM so
 * this one survives. When a DJL upgrade makes BF16 work this test fails and docs/DESIGN.md P2 must be revised.
 */
class Bf16ProbeTest {
    @Test
    void aBf16ArrayAbortsTheJvmOnTheCpu() {
        Bf16Probe.Result r = Bf16Probe.run("cpu");
        assertEquals(134, r.exitCode(), r.describe());
        assertEquals(List.of(), r.passed(), "no step passes: the very first conversion aborts");
        assertEquals("terminate called without an active exception", r.lastError());
        assertFalse(r.works());
    }
}
