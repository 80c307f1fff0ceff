package dev.spruce.cli;

import ai.djl.Device;
import dev.spruce.io.Fs;
import dev.spruce.model.Generator;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.tokenize.HfTokenizer;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code spruce generate}: continue a prompt with a model, for spot checks. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Continue a prompt (greedy or sampled).")
public final class GenerateCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Model directory in Hugging Face layout.")
    private String model;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The text to continue.")
    private String prompt;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "Tokens to generate (default ${DEFAULT-VALUE}).")
    private int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 is greedy (default ${DEFAULT-VALUE}).")
    private double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
    private double topP;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--dtype", defaultValue = "float32", description = "float32 or float64 on CPU (default ${DEFAULT-VALUE}).")
    private String dtype;

    @Override
    public Integer call() {
        Path dir = Fs.path(model);
        Generator.Settings settings = new Generator.Settings(maxNewTokens, temperature, topP, seed);
        try (HfTokenizer tok = HfTokenizer.load(dir);
             LlamaModel m = ModelFiles.load(dir, ExecutorModels.dataType(dtype, Device.cpu()), Device.cpu())) {
            int[] ids = tok.encode(prompt, tok.bosId() >= 0);
            int[] out = Generator.generate(m, ids, settings, tok.eosId());
            PrintWriter w = spec.commandLine().getOut();
            w.println(prompt + tok.decode(out));
            w.flush();
        }
        return 0;
    }
}
