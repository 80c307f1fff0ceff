package dev.spruce.cli;

import dev.spruce.bench.RandomModels;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.safetensors.DType;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code spruce bench model}: writes a random model in Hugging Face layout, so that the real commands
 * ({@code prune}, {@code recover}, {@code evaluate}) can be measured at any width, e.g. LLaMA-7B's with few layers.
 */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = "Writes a random LLaMA model (config.json, safetensors, a tokenizer) for benchmarks of the real "
                + "commands.")
public final class BenchModelCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private BenchModelOptions model;

    @Option(names = "--out", required = true, description = "The new model directory (must not exist).")
    private String out;

    @Option(names = "--stored", defaultValue = "bf16",
            description = "Stored dtype of the weights: bf16, f16, f32 or f64 (default ${DEFAULT-VALUE}).")
    private String stored;

    @Option(names = "--tokenizer", defaultValue = "models/spruce-tiny",
            description = "A model directory whose tokenizer files are copied (its vocabulary must fit --vocab; "
                    + "default ${DEFAULT-VALUE}).")
    private String tokenizer;

    @Override
    public Integer call() {
        LlamaConfig config = model.config();
        DType dtype = switch (stored.toLowerCase(Locale.ROOT)) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            case "f64" -> DType.F64;
            default -> throw new IllegalArgumentException("--stored " + stored + ": expected bf16, f16, f32 or f64");
        };
        LlamaConfig stamped = config.toBuilder().torchDtype(ModelFiles.torchDtype(dtype)).build();
        long started = System.nanoTime();
        ModelFiles.write(Fs.path(out), stamped, RandomModels.weights(stamped, model.seed), dtype, Fs.path(tokenizer),
                false);
        PrintWriter w = spec.commandLine().getOut();
        w.printf(Locale.ROOT, "wrote %s: %d layers, hidden %d, %d heads (%d kv), intermediate %d, vocab %d, "
                        + "%d parameters in %s, %.1fs%n", out, stamped.numHiddenLayers(), stamped.hiddenSize(),
                stamped.numAttentionHeads(), stamped.numKeyValueHeads(), stamped.intermediateSize(),
                stamped.vocabSize(), stamped.parameterCount(), dtype, (System.nanoTime() - started) / 1e9);
        w.flush();
        return 0;
    }
}
