package dev.spruce.cli;

import dev.spruce.bench.GpuCheck;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code spruce gpu-check}: the build's libtorch loads offline, GPUs agree with the CPU, and layer MFU. */
@Command(name = "gpu-check", mixinStandardHelpOptions = true,
        description = "Loads libtorch offline from the class path (a download attempt fails the check), lists the "
                + "GPUs DJL sees, compares forward+backward of a small random LLaMA on each GPU with the CPU in "
                + "float64, and measures TFLOP/s and MFU of one LLaMA-7B-width decoder layer. Without a GPU: the "
                + "CPU float32 check and '<cuda|cpu>-build: loaded, no GPU visible'. Exit code 0 when all passed.")
public final class GpuCheckCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights and tokens (default ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--peak-tflops", description = "Peak dense TFLOP/s to compute MFU against, for both precisions "
            + "(default: the device's datasheet figure, when its name is in the table).")
    private Double peakTflops;

    @Option(names = "--mfu-tokens", defaultValue = "2048",
            description = "Tokens in the MFU layer's one sequence; 0 skips MFU (default ${DEFAULT-VALUE}).")
    private int mfuTokens;

    @Option(names = "--mfu-steps", defaultValue = "5",
            description = "Timed forward+backward steps after one warm-up; the best is reported (default ${DEFAULT-VALUE}).")
    private int mfuSteps;

    @Override
    public Integer call() {
        if (mfuTokens < 0 || mfuSteps < 1) {
            throw new IllegalArgumentException("gpu-check: --mfu-tokens must be >= 0 and --mfu-steps >= 1, got "
                    + mfuTokens + " and " + mfuSteps);
        }
        if (peakTflops != null && !(peakTflops > 0)) {
            throw new IllegalArgumentException("gpu-check: --peak-tflops must be a positive number, got " + peakTflops);
        }
        return GpuCheck.run(new GpuCheck.Settings(seed, peakTflops, mfuTokens, mfuSteps), spec.commandLine().getOut());
    }
}
