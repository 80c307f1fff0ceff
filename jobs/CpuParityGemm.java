import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;

/**
 * libtorch's float32 GEMM speed as spruce sees it (DJL's PyTorch engine, the same jar and native library as
 * the benchmarks), plus the per-call cost of a tiny op and of the host-to-native copy of a double[] table (how
 * spruce ships RoPE tables, attention biases and dropout masks). Run by jobs/cpu-parity.sh as a Java source
 * file on spruce's classpath: {@code java -cp CLASSPATH jobs/CpuParityGemm.java THREADS [N]}.
 * Prints {@code RESULT {json}} lines like jobs/cpu_parity.py.
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
            while (spent < 2.0) {
                long t0 = System.nanoTime();
                for (int i = 0; i < 5; i++) {
                    a.matMul(b).close();
                }
                double dt = (System.nanoTime() - t0) / 1e9 / 5;
                best = Math.min(best, dt);
                spent += dt * 5;
            }
            System.out.printf("RESULT {\"engine\": \"spruce\", \"workload\": \"gemm\", \"threads\": %d, \"n\": %d, "
                    + "\"gflops\": %.2f, \"interop_threads\": %d, \"intraop_threads\": %d}%n", threads, n,
                    2.0 * n * n * n / best / 1e9, JniUtils.getNumInteropThreads(), JniUtils.getNumThreads());

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
            System.out.printf("RESULT {\"engine\": \"spruce\", \"workload\": \"overheads\", \"tiny_op_us\": %.2f, "
                    + "\"table_64k_us\": %.1f}%n", perCall, perTable);
        }
    }
}
