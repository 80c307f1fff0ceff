import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.lang.management.ManagementFactory;

/**
 * libtorch's float32 GEMM speed as spruce sees it (DJL's PyTorch engine, the same jar and native library as
 * the benchmarks), plus the per-call cost of a tiny op and of the host-to-native copy of a double[] table (how
 * spruce ships RoPE tables, attention biases and dropout masks). Run by jobs/cpu-parity.sh as a Java source
 * file on spruce's classpath: {@code java -cp CLASSPATH jobs/CpuParityGemm.java THREADS [N [HIDDEN]]}.
 * Prints {@code RESULT {json}} lines like jobs/cpu_parity.py. Besides wall-clock GFLOP/s it gives GFLOP per
 * second of process CPU time, which stays meaningful when other jobs share the cores.
 */
public final class CpuParityGemm {
    public static void main(String[] args) {
        int threads = Integer.parseInt(args[0]);
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        try (NDManager m = NDManager.newBaseManager()) {
            JniUtils.setNumThreads(threads);
            NDArray a = m.randomNormal(new Shape(n, n));
            NDArray b = m.randomNormal(new Shape(n, n));
            double best = Double.MAX_VALUE;
            for (int i = 0; i < 3; i++) {
                a.matMul(b).close();
            }
            double spent = 0;
            long cpu0 = processCpuNanos();
            long flops = 0;
            while (spent < 2.0) {
                long t0 = System.nanoTime();
                for (int i = 0; i < 5; i++) {
                    a.matMul(b).close();
                }
                double dt = (System.nanoTime() - t0) / 1e9 / 5;
                best = Math.min(best, dt);
                spent += dt * 5;
                flops += 5L * 2 * n * n * n;
            }
            double cpuSeconds = (processCpuNanos() - cpu0) / 1e9;
            System.out.printf("RESULT {\"engine\": \"spruce\", \"workload\": \"gemm\", \"threads\": %d, \"n\": %d, "
                    + "\"gflops\": %.2f, \"gflops_per_cpu_s\": %.2f, \"interop_threads\": %d, \"intraop_threads\": %d, "
                    + "\"load\": %.2f}%n", threads, n, 2.0 * n * n * n / best / 1e9, flops / cpuSeconds / 1e9, JniUtils.getNumInteropThreads(), JniUtils.getNumThreads(),
                    ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());

            // A tiny op: the JNI round trip plus libtorch's dispatch, the floor under every NDArray call.
            NDArray x = m.create(new float[] {1f});
            int calls = 20000;
            for (int i = 0; i < calls; i++) {
                x.add(x).close();
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                x.add(x).close();
            }
            double perCall = (System.nanoTime() - t0) / 1e3 / calls;

            // One micro-batch's attention bias, [4, 1, 1, 128, 128], shipped the way spruce ships host tables.
            double[] table = new double[4 * 128 * 128];
            long t1 = System.nanoTime();
            int copies = 200;
            for (int i = 0; i < copies; i++) {
                dev.spruce.model.Djl.fromDoubles(m, table, new Shape(4, 1, 1, 128, 128), DataType.FLOAT32).close();
            }
            double perTable = (System.nanoTime() - t1) / 1e3 / copies;

            // LoRA dropout masks of one training micro-batch (4 x 128 tokens) at --hidden h, drawn as
            // LoraAdapters.dropout draws them on a CPU (DropoutMask.onHost), applied with one mul: q, k, v, o,
            // gate and up see [4, 128, h], down sees [4, 128, intermediate]; 4 layers. One warm-up pass first.
            int h = args.length > 2 ? Integer.parseInt(args[2]) : 1024;
            int inter = (int) Math.ceil(h * 8.0 / 3 / 64) * 64;
            long[] rowSeeds = {11, 12, 13, 14};
            String[] modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
            long cpuMasks = 0;
            long wallMasks = 0;
            long threadCpu0 = 0;
            for (int pass = 0; pass < 2; pass++) {
                wallMasks = System.nanoTime();
                threadCpu0 = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
                for (int layer = 0; layer < 4; layer++) {
                    for (int module = 0; module < 7; module++) {
                        int width = module == 6 ? inter : h;
                        try (NDManager step = m.newSubManager()) {
                            NDArray input = step.ones(new Shape(4, 128, width));
                            String name = "model.layers." + layer + ".mlp." + modules[module] + ".weight";
                            input.mul(dev.spruce.lora.DropoutMask.onHost(step, rowSeeds, name, input.getShape(), 0.05,
                                    DataType.FLOAT32));
                        }
                    }
                }
            }
            cpuMasks = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - threadCpu0;
            System.out.printf("RESULT {\"engine\": \"spruce\", \"workload\": \"dropout_masks\", \"hidden\": %d, "
                    + "\"elements\": %d, \"wall_s\": %.3f, \"cpu_s\": %.3f}%n", h, 4L * 4 * 128 * (6L * h + inter),
                    (System.nanoTime() - wallMasks) / 1e9, cpuMasks / 1e9);
            System.out.printf("RESULT {\"engine\": \"spruce\", \"workload\": \"overheads\", \"threads\": %d"
                    + ", \"tiny_op_us\": %.2f, \"table_64k_us\": %.1f}%n", threads, perCall, perTable);
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }
}
