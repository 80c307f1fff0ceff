package dev.spruce.cli;

import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.WeightCheck;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.tokenize.HfTokenizer;
import java.io.PrintWriter;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code spruce inspect <model dir>}: the config, per-layer widths and parameter count of a model, and a full
 * check of the directory: the weights against the config (names, shapes, floating-point dtypes), every weight
 * value finite, and tokenizer.json loadable with ids inside the vocabulary. Any problem is a one-line error and
 * a non-zero exit.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's config, per-layer widths and parameter count (line params=<count>), and check "
                + "the weights against the config (shapes, dtypes, every value finite) and tokenizer.json; exits 1 on "
                + "a problem.")
public final class InspectCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Model directory in Hugging Face layout.")
    private String model;

    @Override
    public Integer call() {
        Path dir = Fs.path(model);
        LlamaConfig c = LlamaConfig.read(dir);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("model=%s%n", dir);
        out.printf("layers=%d hidden=%d heads=%d kv_heads=%d head_dim=%d intermediate=%d vocab=%d tied=%s%n",
                c.numHiddenLayers(), c.hiddenSize(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(),
                c.intermediateSize(), c.vocabSize(), c.tieWordEmbeddings());
        out.printf("rope_theta=%s rope_scaling=%s max_positions=%d rms_norm_eps=%s dtype=%s%n", c.ropeTheta(),
                c.ropeScaling() == null ? "none" : c.ropeScaling().type() + "x" + c.ropeScaling().factor(),
                c.maxPositionEmbeddings(), c.rmsNormEps(), c.torchDtype());
        out.printf("uniform=%s%n", c.isUniform());
        out.println("layer  heads  kv_heads  intermediate  params");
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            out.printf("%5d  %5d  %8d  %12d  %d%n", l, c.layerHeads(l), c.layerKvHeads(l), c.layerIntermediate(l),
                    c.layerParameterCount(l));
        }
        boolean hasWeights = Fs.exists(new Path(dir, SafetensorsModel.SINGLE_FILE))
                || Fs.exists(new Path(dir, SafetensorsModel.INDEX_FILE));
        if (hasWeights) {
            WeightCheck.Summary w = ModelFiles.check(dir, WeightCheck.Scan.FULL);
            out.printf("weights=ok tensors=%d dtypes=%s unused_tensors=%d finite=all%n", w.tensors(),
                    new TreeMap<>(w.dtypes()), w.unused().size());
        } else {
            out.println("weights=absent (config only)");
        }
        if (hasWeights || Fs.exists(new Path(dir, HfTokenizer.TOKENIZER_FILE))) {
            checkTokenizer(dir, c, out);
        }
        out.printf("params=%d%n", c.parameterCount());
        out.flush();
        return 0;
    }

    /**
     * A model directory needs a tokenizer the project can load, whose ids all index the embedding; a config-only
     * directory (no weights) is checked only when it has one.
     */
    private static void checkTokenizer(Path dir, LlamaConfig c, PrintWriter out) {
        try (HfTokenizer tokenizer = HfTokenizer.load(dir)) {
            if (tokenizer.vocabSize() > c.vocabSize()) {
                throw new InvalidModelException(new Path(dir, HfTokenizer.TOKENIZER_FILE) + ": defines token ids up "
                        + "to " + (tokenizer.vocabSize() - 1) + ", expected ids below config.json vocab_size = "
                        + c.vocabSize());
            }
            out.printf("tokenizer=ok vocab=%d bos=%d eos=%d pad=%d%n", tokenizer.vocabSize(), tokenizer.bosId(),
                    tokenizer.eosId(), tokenizer.padId());
        }
    }
}
