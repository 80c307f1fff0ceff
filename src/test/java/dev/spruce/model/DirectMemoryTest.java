package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A resident model may be larger than the JVM's direct-memory limit: arrays made from Java values wrap DJL's direct
 * buffers, which count against {@code MaxDirectMemorySize}, so {@link LlamaModel#load} copies each weight into
 * libtorch's own memory ({@link Djl#ownedByLibtorch}). A forked JVM with an 8 MiB limit loads a 14.6 MB float32 model
 * and runs a forward; without the copy it dies with "Cannot reserve ... bytes of direct buffer memory".
 */
class DirectMemoryTest {
    /** 2 layers, hidden 256, vocab 4000: 3,654,912 float32 weights (14.6 MB), the largest tensor 4.1 MB. */
    static LlamaConfig config() {
        return LlamaConfig.builder().vocabSize(4000).hiddenSize(256).numHiddenLayers(2).numAttentionHeads(4)
                .numKeyValueHeads(4).headDim(64).intermediateSize(704).build();
    }

    /** The forked JVM: load, one forward, print the parameter count and a finite logit. */
    public static void main(String[] args) {
        LlamaConfig c = config();
        try (LlamaModel m = LlamaModel.load(c, WeightSource.of(c, TinyModels.randomWeights(c, 3)), DataType.FLOAT32,
                Device.cpu()); ai.djl.ndarray.NDManager step = ai.djl.ndarray.NDManager.newBaseManager()) {
            float logit = m.logits(step, TokenBatch.selfSupervised(new int[][] {{1, 2, 3, 4}}), ForwardHooks.NONE)
                    .toFloatArray()[0];
            System.out.println("loaded " + m.parameterCount() + " finite " + Float.isFinite(logit));
        }
    }

    @Test
    void aModelLargerThanTheDirectMemoryLimitLoadsAndRuns() throws Exception {
        assertEquals(3_654_912, config().parameterCount()); // 14.6 MB of float32, the limit is 8 MiB
        Process p = new ProcessBuilder(List.of(System.getProperty("java.home") + File.separator + "bin" + File.separator
                + "java", "-Xmx256m", "-XX:MaxDirectMemorySize=8m", "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), DirectMemoryTest.class.getName())).redirectErrorStream(true)
                .start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the forked JVM did not finish");
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        assertTrue(text.contains("loaded " + config().parameterCount() + " finite true"), text);
    }
}
