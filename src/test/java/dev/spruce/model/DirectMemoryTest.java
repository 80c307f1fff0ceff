package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.io.File;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
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

    /** Bytes of direct buffers the JVM holds now, live or awaiting their cleaner. */
    static long directBytes() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).mapToLong(BufferPoolMXBean::getTotalCapacity).sum();
    }

    /**
     * A load decodes every weight into one reused buffer: a fresh buffer per weight stayed reserved beside the model
     * until a GC ran, so the direct memory a load held grew with the model (14.6 MB here) instead of its largest
     * tensor (4.1 MB).
     */
    @Test
    void aLoadHoldsOneTensorsWorthOfDirectBuffers() {
        LlamaConfig c = config();
        var weights = TinyModels.randomWeights(c, 3);
        long before = directBytes();
        try (LlamaModel m = LlamaModel.load(c, WeightSource.of(c, weights), DataType.FLOAT32, Device.cpu())) {
            long held = directBytes() - before;
            assertTrue(held >= 4000 * 256 * Float.BYTES, "the decode buffer is sized for the embedding: " + held);
            assertTrue(held < 4000 * 256 * Float.BYTES + 64 * 1024, "direct bytes held after the load: " + held);
        }
    }

    /**
     * A weight larger than one buffer (over 2 GiB of float32 in real models: Llama-3-70B's embedding) is read in
     * pieces of whole rows. Pieces of 3 rows of the embedding and of one row of down_proj (uneven last pieces) give
     * every weight bit for bit as one piece does, in float32 and float16, and the buffer stays one piece large.
     */
    @Test
    void weightsReadInPiecesEqualWeightsReadWhole() {
        LlamaConfig c = config();
        var weights = TinyModels.randomWeights(c, 5);
        long piece = 3 * 256 * Float.BYTES;
        for (DataType type : new DataType[] {DataType.FLOAT32, DataType.FLOAT16}) {
            long before = directBytes();
            try (LlamaModel whole = LlamaModel.load(c, WeightSource.of(c, weights), type, Device.cpu());
                 LlamaModel pieces = LlamaModel.load(c, WeightSource.of(c, weights), type, Device.cpu(), piece)) {
                long held = directBytes() - before;
                assertTrue(held < 4000 * 256 * Float.BYTES + piece + 64 * 1024, type + ": direct bytes held " + held);
                assertEquals(whole.weights().keySet(), pieces.weights().keySet());
                for (String name : whole.weights().keySet()) {
                    NDArray a = whole.weight(name);
                    NDArray b = pieces.weight(name);
                    assertEquals(a.getShape(), b.getShape(), name);
                    assertEquals(type, b.getDataType(), name);
                    assertArrayEquals(a.toType(DataType.FLOAT32, false).toFloatArray(),
                            b.toType(DataType.FLOAT32, false).toFloatArray(), type + " " + name);
                }
                if (type == DataType.FLOAT32) { // and the values are the source's, narrowed once
                    float[] embed = pieces.weight(TensorNames.EMBED).toFloatArray();
                    double[] stored = weights.get(TensorNames.EMBED);
                    for (int i = 0; i < stored.length; i++) {
                        assertEquals((float) stored[i], embed[i], "embedding element " + i);
                    }
                }
            }
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
