package dev.spruce.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.spruce.model.Djl;
import dev.spruce.model.TorchNatives;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Whether bfloat16 arrays work on a device, asked in a separate JVM: with DJL 0.33.0 (and 0.35.1) creating a
 * BF16 array kills the process, because DJL's PyTorch JNI maps no DJL data type to {@code torch::kBFloat16} and
 * ends in {@code throw;} without an exception ({@code terminate called without an active exception}, exit 134),
 * on every device. {@link #main} runs the steps (float32 to BF16, matmul, softmax, backward) and prints one line
 * per step that passed; {@link #run} forks it and reports how far it got.
 */
public final class Bf16Probe {
    /** The steps, in order; a probe that gets through all of them prints {@link #ALL_PASSED}. */
    public static final List<String> STEPS = List.of("toType", "matMul", "softmax", "backward");
    public static final String ALL_PASSED = "bf16-probe: all steps passed";

    private Bf16Probe() {}

    /** What a forked probe did: its exit code, the steps that passed and its standard error's last line. */
    public record Result(int exitCode, List<String> passed, String lastError) {
        public boolean works() {
            return exitCode == 0 && passed.size() == STEPS.size();
        }

        public String describe() {
            if (works()) {
                return "works (" + String.join(", ", STEPS) + ")";
            }
            String step = passed.size() < STEPS.size() ? STEPS.get(passed.size()) : "exit";
            return "not available: the JVM died at '" + step + "' with exit code " + exitCode
                    + (lastError.isEmpty() ? "" : " (" + lastError + ")");
        }
    }

    /** Forks a JVM with this JVM's class path that runs the probe on {@code device} ("cpu" or a GPU index). */
    public static Result run(String device) {
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        cmd.add("-Xmx512m");
        cmd.add("-Dai.djl.offline=true");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Bf16Probe.class.getName());
        cmd.add(device);
        try {
            Process p = new ProcessBuilder(cmd).start();
            p.getOutputStream().close();
            // Read both streams after exit: the probe writes a few lines only.
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, List.of(), "timed out after 300 s");
            }
            List<String> passed = new ArrayList<>();
            for (String line : new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.startsWith("bf16-probe: passed ")) {
                    passed.add(line.substring("bf16-probe: passed ".length()).trim());
                }
            }
            String[] err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip().split("\n");
            return new Result(p.exitValue(), passed, err[err.length - 1].strip());
        } catch (IOException e) {
            throw new IllegalStateException("cannot fork the bfloat16 probe: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the bfloat16 probe", e);
        }
    }

    public static void main(String[] args) throws Exception {
        TorchNatives.prepare();
        Device device = args.length == 0 || "cpu".equals(args[0]) ? Device.cpu() : Device.gpu(Integer.parseInt(args[0]));
        try (NDManager m = NDManager.newBaseManager(device)) {
            NDArray a32 = m.randomNormal(new Shape(16, 16));
            NDArray a = a32.toType(DataType.BFLOAT16, false);
            passed("toType");
            NDArray product = a.matMul(a);
            passed("matMul");
            NDArray soft = product.softmax(-1);
            passed("softmax");
            Djl.requireGradient(a);
            try (Djl.GradScope g = Djl.gradScope(true)) {
                Djl.backward(a.matMul(a).softmax(-1).mul(a).sum());
            }
            a.getGradient().toType(DataType.FLOAT32, false).toFloatArray();
            soft.toType(DataType.FLOAT32, false).toFloatArray();
            passed("backward");
        }
        System.out.println(ALL_PASSED);
    }

    private static void passed(String step) {
        System.out.println("bf16-probe: passed " + step);
        System.out.flush();
    }
}
