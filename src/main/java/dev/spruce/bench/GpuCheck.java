package dev.spruce.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.cuda.CudaUtils;
import dev.spruce.model.CausalLmLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.TorchNatives;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@code spruce gpu-check}: proves that this build's libtorch loads offline from the class path, lists the GPUs
 * DJL sees, checks forward and backward of a small random LLaMA on each GPU against the CPU in float64 (float32
 * forward and backward; float16, and bfloat16 where a forked probe says it works, forward only: DJL cannot
 * differentiate through a dtype cast), and measures TFLOP/s and MFU of one LLaMA-7B-width decoder layer.
 * Without a GPU it checks float32 against float64 on the CPU and prints {@code <cuda|cpu>-build: loaded, no GPU
 * visible}. The return value is the exit code: 0 when every check passed.
 */
public final class GpuCheck {
    /** Relative (L2) error allowed against the CPU float64 result, by compute precision. */
    public static final double FLOAT32_TOLERANCE = 1e-4;
    /** float32 with TF32 tensor cores (10-bit mantissa in the matmuls). */
    public static final double TF32_TOLERANCE = 1e-2;
    public static final double FLOAT16_TOLERANCE = 2e-2;
    public static final double BFLOAT16_TOLERANCE = 3e-2;
    public static final String TF32_ENV = "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE";
    /** The weight whose gradient is compared (the first layer's: it sees every later layer's backward). */
    static final String GRADIENT_WEIGHT = "model.layers.0.self_attn.q_proj.weight";

    private GpuCheck() {}

    /** @param peakTflops overrides the peak table (null: look the device up); {@code mfuTokens} 0 skips MFU. */
    public record Settings(long seed, Double peakTflops, int mfuTokens, int mfuSteps) {}

    /** Logits and one weight's gradient of the small check model. */
    record Result(double[] logits, double[] gradient) {}

    public static int run(Settings settings, PrintWriter out) {
        List<String> failures = new ArrayList<>();
        try {
            return check(settings, out, failures);
        } catch (RuntimeException e) {
            StringBuilder why = new StringBuilder(e.getClass().getSimpleName() + ": " + e.getMessage());
            for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
                why.append("; caused by ").append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
            }
            failures.add(why.toString());
            return finish(out, failures);
        }
    }

    private static int check(Settings settings, PrintWriter out, List<String> failures) {
        List<String> cacheBefore = TorchNatives.cacheListing();
        TorchNatives.Bundled bundled = TorchNatives.prepare();
        Engine engine = Engine.getEngine("PyTorch");
        String kind = bundled.cuda() ? "cuda-build" : "cpu-build";
        out.printf("djl %s, libtorch %s, pytorch-jni %s%n", Engine.getDjlVersion(), engine.getVersion(),
                TorchNatives.jniVersion());
        out.printf("libtorch flavor %s bundled in %s%n", bundled.flavor(), jarOf(bundled));
        out.printf("libtorch loaded from %s%n", LibUtils.getLibtorchPath());
        checkNoDownload(bundled, cacheBefore, failures);
        out.flush();

        String tf32 = System.getenv(TF32_ENV);
        boolean tf32On = "1".equals(tf32) || "true".equalsIgnoreCase(tf32);
        out.printf("tf32: %s=%s (%s)%n", TF32_ENV, tf32 == null ? "unset" : tf32,
                tf32On ? "float32 matmuls on GPUs use TF32 tensor cores" : "float32 matmuls in full float32");

        int djlGpus = engine.getGpuCount();
        int gpus = djlGpus;
        boolean torchCuda = engine.hasCapability("CUDA");
        if (torchCuda && djlGpus == 0) {
            // DJL counts GPUs through a system libcudart.so; libtorch may see GPUs without one.
            gpus = torchGpuCount();
            out.printf("gpus: DJL sees 0 (no system libcudart.so), libtorch sees %d%n", gpus);
        } else {
            out.printf("gpus: %d (DJL), libtorch CUDA %s%n", djlGpus, torchCuda ? "available" : "not available");
        }
        List<String[]> smi = nvidiaSmi();
        for (int i = 0; i < gpus; i++) {
            out.printf("gpu %d: %s%n", i, describeGpu(i, smi));
        }

        LlamaConfig config = checkConfig();
        TokenBatch batch = checkBatch(config, settings.seed());
        Result reference = forwardBackward(config, batch, settings.seed(), DataType.FLOAT64, Device.cpu());
        compare(out, failures, "cpu float32", forwardBackward(config, batch, settings.seed(), DataType.FLOAT32,
                Device.cpu()), reference, FLOAT32_TOLERANCE);
        if (gpus == 0) {
            out.println(kind + ": loaded, no GPU visible");
            return finish(out, failures);
        }
        out.printf("%s: loaded, %d GPU%s visible%n", kind, gpus, gpus == 1 ? "" : "s");
        for (int i = 0; i < gpus; i++) {
            Device gpu = Device.gpu(i);
            compare(out, failures, "gpu " + i + " float32", forwardBackward(config, batch, settings.seed(),
                    DataType.FLOAT32, gpu), reference, tf32On ? TF32_TOLERANCE : FLOAT32_TOLERANCE);
            compare(out, failures, "gpu " + i + " float16", forwardBackward(config, batch, settings.seed(),
                    DataType.FLOAT16, gpu), reference, FLOAT16_TOLERANCE);
            Bf16Probe.Result probe = Bf16Probe.run(Integer.toString(i));
            out.printf("gpu %d bfloat16: %s%n", i, probe.describe());
            if (probe.works()) {
                compare(out, failures, "gpu " + i + " bfloat16", forwardBackward(config, batch, settings.seed(),
                        DataType.BFLOAT16, gpu), reference, BFLOAT16_TOLERANCE);
            }
            if (settings.mfuTokens() > 0) {
                String name = i < smi.size() ? smi.get(i)[1] : "";
                Peak peak = settings.peakTflops() != null
                        ? new Peak(settings.peakTflops(), settings.peakTflops(), "--peak-tflops")
                        : Peak.of(name);
                mfu(out, i, DataType.FLOAT16, settings, peak == null ? null : peak.half(), peak);
                mfu(out, i, DataType.FLOAT32, settings, peak == null ? null : peak.tf32(), peak);
            }
            out.flush();
        }
        return finish(out, failures);
    }

    private static int finish(PrintWriter out, List<String> failures) {
        if (failures.isEmpty()) {
            out.println("gpu-check: ok");
            out.flush();
            return 0;
        }
        for (String f : failures) {
            out.println("gpu-check: FAILED: " + f);
        }
        out.flush();
        return 1;
    }

    /**
     * Every file DJL added to its cache must be a library named in the bundled jar's list or the JNI library
     * it unpacks from the pytorch-jni jar; anything else (the download index {@code <version>.txt}, a libtorch
     * of another flavor) means DJL fetched or tried to fetch something.
     */
    static void checkNoDownload(TorchNatives.Bundled bundled, List<String> before, List<String> failures) {
        Path loaded = Paths.get(LibUtils.getLibtorchPath()).toAbsolutePath().normalize();
        Path chosen = TorchNatives.libraryDir();
        Path expected = (chosen != null ? chosen : bundled.cacheDir()).toAbsolutePath().normalize();
        if (!loaded.equals(expected)) {
            failures.add("libtorch was loaded from " + loaded + ", not from the bundled " + bundled.flavor()
                    + " library (expected " + expected + ")");
        }
        String jniName = System.mapLibraryName("djl_torch");
        for (String f : TorchNatives.cacheListing()) {
            if (before.contains(f)) {
                continue;
            }
            Path p = Paths.get(f);
            String name = p.getFileName().toString();
            // The unpacked folder (and its driver-less twin of hard links) holds only the jar's listed files.
            boolean bundledLib = p.getNameCount() == 2
                    && p.getName(0).toString().startsWith(bundled.cacheDir().getFileName().toString())
                    && bundled.libraries().contains(name);
            if (!bundledLib && !name.endsWith(jniName)) {
                failures.add("DJL's cache gained " + f + ", which is not in the bundled jar (a download attempt)");
            }
        }
    }

    private static String jarOf(TorchNatives.Bundled b) {
        String s = b.source().toString();
        int bang = s.indexOf("!/");
        return bang < 0 ? s : s.substring(0, bang).replaceFirst("^jar:file:", "");
    }

    private static void compare(PrintWriter out, List<String> failures, String what, Result actual, Result reference,
                                double tolerance) {
        double logits = relativeError(actual.logits(), reference.logits());
        double gradient = actual.gradient() == null ? 0 : relativeError(actual.gradient(), reference.gradient());
        boolean ok = logits <= tolerance && gradient <= tolerance;
        String grad = actual.gradient() == null
                ? "grad n/a (DJL's toType is not differentiable, DESIGN.md P4)"
                : String.format(Locale.ROOT, "grad(%s) rel %.2e", GRADIENT_WEIGHT, gradient);
        out.printf(Locale.ROOT, "%s vs cpu float64: logits rel %.2e, %s, tolerance %.0e: %s%n",
                what, logits, grad, tolerance, ok ? "ok" : "FAILED");
        if (!ok) {
            failures.add(what + " differs from cpu float64 beyond " + tolerance);
        }
    }

    /** ||a - b|| / ||b|| (L2); NaN anywhere makes it NaN, which fails every tolerance. */
    static double relativeError(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("length " + a.length + " != " + b.length);
        }
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < a.length; i++) {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            norm += b[i] * b[i];
        }
        return norm == 0 ? (diff == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(diff / norm);
    }

    /** Two layers, GQA (4 heads on 2 kv heads), small enough for float64 on the CPU in well under a second. */
    static LlamaConfig checkConfig() {
        return LlamaConfig.builder().vocabSize(256).hiddenSize(64).numHiddenLayers(2).numAttentionHeads(4)
                .numKeyValueHeads(2).headDim(16).intermediateSize(172).rmsNormEps(1e-6).maxPositionEmbeddings(64)
                .build();
    }

    static TokenBatch checkBatch(LlamaConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[][] ids = new int[2][24];
        for (int[] row : ids) {
            for (int t = 0; t < row.length; t++) {
                row[t] = random.nextInt(config.vocabSize());
            }
        }
        return TokenBatch.selfSupervised(ids);
    }

    /**
     * Logits and, for float32 and float64, the gradient (null for 16-bit types: DJL's {@code toType} runs under
     * torch's NoGradGuard, so the forward's casts to and from float32 cut the autograd graph, docs/DESIGN.md P4).
     */
    static Result forwardBackward(LlamaConfig config, TokenBatch batch, long seed, DataType type, Device device) {
        boolean backward = type == DataType.FLOAT32 || type == DataType.FLOAT64;
        try (LlamaModel model = LlamaModel.load(config, RandomModels.weights(config, seed), type, device);
             NDManager step = NDManager.newBaseManager(device)) {
            NDArray w = model.weight(GRADIENT_WEIGHT);
            Djl.requireGradient(w);
            try (Djl.GradScope g = Djl.gradScope(backward)) {
                NDArray logits = model.logits(step, batch, ForwardHooks.NONE);
                if (!backward) {
                    return new Result(Djl.toDoubles(logits), null);
                }
                Djl.backward(CausalLmLoss.mean(step, logits, batch));
                return new Result(Djl.toDoubles(logits), Djl.toDoubles(Djl.gradient(w, step)));
            }
        }
    }

    /** libtorch's own view: the first GPU index it cannot put an array on ends the count. */
    private static int torchGpuCount() {
        int n = 0;
        while (n < 64) {
            try (NDManager m = NDManager.newBaseManager(Device.gpu(n))) {
                m.zeros(new ai.djl.ndarray.types.Shape(1)).toFloatArray();
                n++;
            } catch (RuntimeException e) {
                break;
            }
        }
        return n;
    }

    /** Rows of index, name, total MiB from nvidia-smi, or empty where it is not installed. */
    private static List<String[]> nvidiaSmi() {
        List<String[]> rows = new ArrayList<>();
        try {
            Process p = new ProcessBuilder("nvidia-smi", "--query-gpu=index,name,memory.total",
                    "--format=csv,noheader,nounits").redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                for (String line : text.strip().split("\n")) {
                    String[] f = line.split(",\\s*");
                    if (f.length == 3) {
                        rows.add(f);
                    }
                }
            }
        } catch (java.io.IOException e) {
            return rows;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return rows;
    }

    private static String describeGpu(int i, List<String[]> smi) {
        StringBuilder s = new StringBuilder(i < smi.size() ? smi.get(i)[1] + ", " + smi.get(i)[2] + " MiB"
                : "name unknown (no nvidia-smi)");
        if (CudaUtils.hasCuda()) {
            s.append(", compute capability ").append(CudaUtils.getComputeCapability(i));
            s.append(String.format(Locale.ROOT, ", %.1f GiB total (CUDA)",
                    CudaUtils.getGpuMemory(Device.gpu(i)).getMax() / (double) (1L << 30)));
        }
        Peak peak = i < smi.size() ? Peak.of(smi.get(i)[1]) : null;
        if (peak != null) {
            s.append(String.format(Locale.ROOT, ", peak dense %.0f TFLOP/s bf16/fp16, %.0f tf32 (%s)",
                    peak.half(), peak.tf32(), peak.source()));
        }
        return s.toString();
    }

    /** Peak dense tensor-core TFLOP/s (no sparsity) in 16-bit and TF32. */
    record Peak(double half, double tf32, String source) {
        private static final String DATASHEET = "NVIDIA datasheet, dense";

        /** By the device name nvidia-smi reports; null for a device not in the table. */
        static Peak of(String name) {
            String n = name.toUpperCase(Locale.ROOT);
            if (n.contains("H200") && n.contains("NVL")) {
                return new Peak(835, 418, DATASHEET);
            }
            if (n.contains("H200")) {
                return new Peak(989, 495, DATASHEET);
            }
            if (n.contains("H100") && n.contains("PCIE")) {
                return new Peak(756, 378, DATASHEET);
            }
            if (n.contains("H100") && n.contains("NVL")) {
                return new Peak(835, 418, DATASHEET);
            }
            if (n.contains("H100")) {
                return new Peak(989, 495, DATASHEET);
            }
            if (n.contains("A100")) {
                return new Peak(312, 156, DATASHEET);
            }
            if (n.contains("L40S")) {
                return new Peak(362, 183, DATASHEET);
            }
            if (n.matches(".*\\bL4\\b.*")) {
                return new Peak(121, 60, DATASHEET);
            }
            if (n.contains("A10G")) {
                return new Peak(70, 35, "commonly quoted, not on an NVIDIA datasheet");
            }
            if (n.matches(".*\\bA10\\b.*")) {
                return new Peak(125, 62.5, DATASHEET);
            }
            return null;
        }
    }

    /** Forward+backward FLOPs of one decoder layer on {@code tokens} tokens in one sequence (causal mask not discounted). */
    static double layerFlops(LlamaConfig c, int tokens) {
        double d = c.hiddenSize();
        double kv = (double) c.numKeyValueHeads() * c.headDim();
        double q = (double) c.numAttentionHeads() * c.headDim();
        double matmulParams = d * q + 2 * d * kv + q * d + 3 * d * c.intermediateSize();
        double forward = 2 * tokens * matmulParams + 4.0 * tokens * tokens * q;
        double head = 2.0 * tokens * d * c.vocabSize();
        return 3 * (forward + head);
    }

    /** LLaMA-7B width (hidden 4096, 32 heads, intermediate 11008), one layer, a small vocabulary. */
    static LlamaConfig mfuConfig(int tokens) {
        return LlamaConfig.builder().vocabSize(256).hiddenSize(4096).numHiddenLayers(1).numAttentionHeads(32)
                .numKeyValueHeads(32).headDim(128).intermediateSize(11008).rmsNormEps(1e-6)
                .maxPositionEmbeddings(Math.max(2048, tokens)).build();
    }

    private static void mfu(PrintWriter out, int gpu, DataType type, Settings settings, Double peakTflops, Peak peak) {
        LlamaConfig config = mfuConfig(settings.mfuTokens());
        int[][] ids = new int[1][settings.mfuTokens()];
        SplittableRandom random = new SplittableRandom(settings.seed());
        for (int t = 0; t < ids[0].length; t++) {
            ids[0][t] = random.nextInt(config.vocabSize());
        }
        TokenBatch batch = TokenBatch.selfSupervised(ids);
        Device device = Device.gpu(gpu);
        boolean backward = type == DataType.FLOAT32; // 16-bit: forward only (P4)
        try (LlamaModel model = LlamaModel.load(config, RandomModels.weights(config, settings.seed()), type, device)) {
            for (NDArray w : model.weights().values()) {
                Djl.requireGradient(w);
            }
            long best = Long.MAX_VALUE;
            for (int s = 0; s <= settings.mfuSteps(); s++) {
                long t0 = System.nanoTime();
                try (NDManager step = NDManager.newBaseManager(device); Djl.GradScope g = Djl.gradScope(backward)) {
                    NDArray logits = model.logits(step, batch, ForwardHooks.NONE);
                    if (backward) {
                        Djl.backward(CausalLmLoss.mean(step, logits, batch));
                        // Reading a value back waits for the GPU's queue.
                        Djl.gradient(model.weight("model.layers.0.mlp.down_proj.weight"), step).get(0, 0)
                                .toType(DataType.FLOAT32, false).getFloat();
                    } else {
                        logits.get(0, 0, 0).toType(DataType.FLOAT32, false).getFloat();
                    }
                }
                if (s > 0) { // step 0 warms up kernels and the allocator
                    best = Math.min(best, System.nanoTime() - t0);
                }
            }
            double flops = layerFlops(config, settings.mfuTokens()) / (backward ? 1 : 3);
            double tflops = flops / (best / 1e9) / 1e12;
            String peakText = peakTflops == null ? "MFU unknown (device not in the peak table; pass --peak-tflops)"
                    : String.format(Locale.ROOT, "MFU %.1f%% of %.0f TFLOP/s (%s)", 100 * tflops / peakTflops,
                    peakTflops, peak.source());
            out.printf(Locale.ROOT, "gpu %d %s, one LLaMA-7B-width layer %s on %d tokens: best of %d steps "
                            + "%.1f ms, %.1f TFLOP/s, %s%n", gpu, type == DataType.FLOAT16 ? "float16" : "float32",
                    backward ? "fwd+bwd" : "forward (no 16-bit backward, P4)", settings.mfuTokens(),
                    settings.mfuSteps(), best / 1e6, tflops, peakText);
        }
    }
}
