package dev.spruce.memory;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.spruce.importance.Criterion;
import dev.spruce.importance.GradientAccumulator;
import dev.spruce.importance.GroupScorer;
import dev.spruce.importance.Member;
import dev.spruce.importance.ScoringSettings;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TokenBatch;
import dev.spruce.model.WeightSource;
import dev.spruce.scope.LayerRange;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A one-off probe of the estimate on the CPU (not a test: the peak RSS depends on the allocator): a random
 * 4-layer model (hidden 512, vocab 8000, float32), one importance micro-batch of B x T tokens (or, with a third
 * argument, one evaluation forward), and the growth of the process peak RSS (VmHWM after resetting it through
 * /proc/self/clear_refs) against the per-task terms of the estimate. Linux only; numbers in docs/MEMORY.md.
 */
public final class PeakMemoryProbe {
    private PeakMemoryProbe() {}

    static long status(String key) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) if (l.startsWith(key)) return Long.parseLong(l.replaceAll("\\D+", "")) * 1024;
        return -1;
    }
    /** Arguments: B T [eval]. */
    public static void main(String[] a) throws Exception {
        int b = Integer.parseInt(a[0]), t = Integer.parseInt(a[1]);
        LlamaConfig c = LlamaConfig.builder().hiddenSize(512).numHiddenLayers(4).numAttentionHeads(8).numKeyValueHeads(8)
            .headDim(64).intermediateSize(1376).vocabSize(8000).maxPositionEmbeddings(4096).torchDtype("float32").build();
        Map<String, double[]> w = new LinkedHashMap<>();
        Random r = new Random(1);
        for (Map.Entry<String, long[]> e : TensorNames.expectedShapes(c).entrySet()) {
            long n = 1; for (long s : e.getValue()) n *= s;
            double[] v = new double[(int) n]; for (int i = 0; i < n; i++) v[i] = r.nextGaussian() * 0.02;
            w.put(e.getKey(), v);
        }
        LlamaModel m = LlamaModel.load(c, WeightSource.of(c, w), DataType.FLOAT32, Device.cpu());
        w = null;
        int[][] ids = new int[b][t];
        for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) ids[i][j] = r.nextInt(8000);
        ScoringSettings s = ScoringSettings.blockWise(Criterion.PARAM_FIRST, new LayerRange(0, 4), new LayerRange(0, 4));
        List<Member> members = new GroupScorer(c, s).members();
        System.gc();
        Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        long r0 = status("VmRSS");
        if (a.length > 2) {
            try (NDManager step = m.manager().newSubManager()) {
                NDArray logits = m.logits(step, new TokenBatch(ids, null, null), ForwardHooks.NONE);
                logits.logSoftmax(-1).max().toFloatArray();
                long h1 = status("VmHWM");
                EvaluationPlan plan = new EvaluationPlan(c, "float32", b * t, t);
                Estimate e = plan.estimate(new ExecutorShape(false, 0, 1L << 40, 1L << 40, 1, "m"));
                long est = e.term("activations") + e.term("logits");
                System.out.printf(Locale.ROOT, "eval B=%d T=%d measured peak RSS growth %.1f MiB, estimate (activations+logits) %.1f MiB, ratio %.2f%n",
                    b, t, (h1 - r0) / 1048576.0, est / 1048576.0, (h1 - r0) / (double) est);
            }
            return;
        }
        try (GradientAccumulator acc = new GradientAccumulator(m, Criterion.PARAM_FIRST, members)) {
            acc.add(new TokenBatch(ids, null, ids));
            long h1 = status("VmHWM");
            ImportancePlan plan = new ImportancePlan(c, "float32", "param_first", b, t, new LayerRange(0, 4), new LayerRange(0, 4), false, 1 << 20);
            Estimate e = plan.estimate(new ExecutorShape(false, 0, 1L << 40, 1L << 40, 1, "m"));
            long est = e.bytes(Term.Part.TENSORS) - e.term("weights") - e.term("libtorch runtime");
            System.out.printf(Locale.ROOT, "B=%d T=%d measured peak RSS growth %.1f MiB, estimate (grads+G+activations+logits+backward) %.1f MiB, ratio %.2f%n",
                b, t, (h1 - r0) / 1048576.0, est / 1048576.0, (h1 - r0) / (double) est);
            for (Term x : e.terms()) System.out.printf(Locale.ROOT, "  %s %.1f MiB%n", x.name(), x.bytes() / 1048576.0);
        }
    }
}
