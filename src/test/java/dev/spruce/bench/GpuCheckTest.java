package dev.spruce.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import dev.spruce.model.TorchNatives;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The arithmetic and the download detection of {@code spruce gpu-check}. */
class GpuCheckTest {
    @Test
    void relativeErrorIsTheL2NormOfTheDifferenceOverTheReference() {
        // |(3,4) - (3,4.5)| / |(3,4)| = 0.5 / 5
        assertEquals(0.1, GpuCheck.relativeError(new double[] {3, 4.5}, new double[] {3, 4}), 1e-15);
        assertEquals(0, GpuCheck.relativeError(new double[] {0, 0}, new double[] {0, 0}));
        assertTrue(Double.isNaN(GpuCheck.relativeError(new double[] {Double.NaN, 0}, new double[] {1, 1})));
    }

    @Test
    void llama7bLayerFlopsFollowTheMatmulCount() {
        // Per token, forward: 2 x (4 x 4096^2 + 3 x 4096 x 11008) = 404,750,336 for the projections,
        // 4 x 2048 x 4096 = 33,554,432 for scores and values, 2 x 4096 x 256 = 2,097,152 for the head;
        // backward is twice the forward.
        double perToken = 404_750_336.0 + 33_554_432.0 + 2_097_152.0;
        assertEquals(3 * 2048 * perToken, GpuCheck.layerFlops(GpuCheck.mfuConfig(2048), 2048), 1.0);
    }

    @Test
    void peakTableByDeviceName() {
        assertEquals(989, GpuCheck.Peak.of("NVIDIA H200").half());
        assertEquals(989, GpuCheck.Peak.of("NVIDIA H100 80GB HBM3").half());
        assertEquals(756, GpuCheck.Peak.of("NVIDIA H100 PCIe").half());
        assertEquals(156, GpuCheck.Peak.of("NVIDIA A100-SXM4-80GB").tf32());
        assertEquals(362, GpuCheck.Peak.of("NVIDIA L40S").half());
        assertEquals(121, GpuCheck.Peak.of("NVIDIA L4").half());
        assertEquals(70, GpuCheck.Peak.of("NVIDIA A10G").half());
        assertEquals(125, GpuCheck.Peak.of("NVIDIA A10").half());
        assertNull(GpuCheck.Peak.of("Tesla T4"));
    }

    @Test
    void aFileInDjlsCacheThatIsNotFromTheJarIsADownloadAttempt(@TempDir Path cache) throws Exception {
        Engine.getEngine("PyTorch");
        TorchNatives.Bundled bundled = TorchNatives.prepare();
        String previous = System.getProperty("ENGINE_CACHE_DIR");
        System.setProperty("ENGINE_CACHE_DIR", cache.toString());
        try {
            Path unpacked = Files.createDirectories(bundled.cacheDir());
            Files.writeString(unpacked.resolve(bundled.libraries().get(0)), "from the jar");
            Files.writeString(cache.resolve("pytorch").resolve("2.5.1.txt"), "cpu/linux-x86_64/native/lib/libtorch.so.gz");
            List<String> failures = new ArrayList<>();
            GpuCheck.checkNoDownload(bundled, List.of(), failures);
            // The loaded libtorch is in the real cache, not this one; and the index file is a download's.
            assertEquals(2, failures.size(), failures.toString());
            assertTrue(failures.get(0).startsWith("libtorch was loaded from "), failures.get(0));
            assertEquals("DJL's cache gained 2.5.1.txt, which is not in the bundled jar (a download attempt)",
                    failures.get(1));
        } finally {
            if (previous == null) {
                System.clearProperty("ENGINE_CACHE_DIR");
            } else {
                System.setProperty("ENGINE_CACHE_DIR", previous);
            }
        }
    }
}
