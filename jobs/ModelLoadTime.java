import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.bench.RandomModels;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.safetensors.DType;

/**
 * How long `ModelFiles.load` (what every executor runs once per stage) takes for a random model at LLaMA-7B width
 * (hidden 4096, 32 heads, intermediate 11008, vocab 32000) with LAYERS decoder layers stored as DTYPE (F32, BF16 or
 * F64), loaded as float32 on the CPU three times in one JVM; with SHAPE {@code llama3-70b}, at Llama-3-70B's width
 * instead (hidden 8192, 64 heads of which 8 key/value, intermediate 28672, vocab 128256: a 4.2 GB float32 embedding,
 * more than one direct buffer holds). Writes the model into DIR first if DIR has no config.json.
 * Run on spruce's classpath, under /usr/bin/time -v for the peak RSS:
 * {@code java -Xmx4g -cp target/classes:$(cat target/classpath.txt) jobs/ModelLoadTime.java DIR [LAYERS [DTYPE [SHAPE]]]}.
 */
public final class ModelLoadTime {
    public static void main(String[] args) {
        String dir = args[0];
        int layers = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        if (!new java.io.File(dir, "config.json").exists()) {
            boolean llama3 = args.length > 3 && args[3].equals("llama3-70b");
            LlamaConfig c = llama3
                    ? LlamaConfig.builder().vocabSize(128256).hiddenSize(8192).numHiddenLayers(layers)
                            .numAttentionHeads(64).numKeyValueHeads(8).headDim(128).intermediateSize(28672)
                            .rmsNormEps(1e-5).maxPositionEmbeddings(8192).torchDtype("bfloat16").build()
                    : LlamaConfig.builder().vocabSize(32000).hiddenSize(4096).numHiddenLayers(layers)
                            .numAttentionHeads(32).numKeyValueHeads(32).headDim(128).intermediateSize(11008)
                            .rmsNormEps(1e-6).maxPositionEmbeddings(2048).torchDtype("float32").build();
            RandomModels.write(Fs.path(dir), c, 1, DType.valueOf(args.length > 2 ? args[2] : "F32"));
        }
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            try (LlamaModel m = ModelFiles.load(Fs.path(dir), DataType.FLOAT32, Device.cpu())) {
                System.out.printf("load %d: %.2f s%n", i + 1, (System.nanoTime() - t0) / 1e9);
            }
        }
    }
}
