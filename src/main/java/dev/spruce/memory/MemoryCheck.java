package dev.spruce.memory;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compares a stage's estimate, times a safety margin, with what an executor has, and refuses before any executor
 * work when it does not fit, naming every term, the totals, the budget and the settings that would fit.
 *
 * <p>Settings travel in the Spark session (the command line copies {@code spruce.memory.*} there), so a job
 * started from a notebook reads the same ones: {@value #CHECK_KEY}, {@value #MARGIN_KEY}, {@value #GPU_KEY}.
 */
public final class MemoryCheck {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    public static final String CHECK_KEY = "spark.spruce.memory.check";
    public static final String MARGIN_KEY = "spark.spruce.memory.margin";
    public static final String GPU_KEY = "spark.spruce.memory.gpu-memory";
    /** Default safety margin: the allocator's fragmentation and what the count of arrays leaves out. */
    public static final double DEFAULT_MARGIN = 1.15;

    private MemoryCheck() {}

    /** The outcome of one check. */
    public record Verdict(StagePlan plan, Estimate estimate, ExecutorShape shape, double margin, boolean fits,
                          List<String> wouldFit) {}

    /** Whether {@code e} x margin fits {@code shape} (an unknown GPU memory checks the heap only). */
    public static boolean fits(Estimate e, ExecutorShape shape, double margin) {
        boolean heap = e.bytes(Term.Part.HEAP) * margin <= shape.heapBytes();
        boolean tensors = shape.tensorBytes() == 0 || e.bytes(Term.Part.TENSORS) * margin <= shape.tensorBytes();
        return heap && tensors;
    }

    public static Verdict check(StagePlan plan, ExecutorShape shape, double margin) {
        if (!(margin >= 1.0)) {
            throw new IllegalArgumentException("memory.margin = " + margin + ": expected a factor >= 1.0");
        }
        Estimate e = plan.estimate(shape);
        boolean fits = fits(e, shape, margin);
        List<String> would = new ArrayList<>();
        if (!fits) {
            for (StagePlan.Alternative alt : plan.alternatives(shape, p -> fits(p.estimate(shape), shape, margin))) {
                if (fits(alt.plan().estimate(shape), shape, margin)) {
                    would.add(alt.change());
                }
            }
            ExecutorShape single = new ExecutorShape(shape.gpu(), shape.gpuBytes(), shape.heapBytes(),
                    shape.nativeBytes(), 1, shape.source());
            if (shape.tasks() > 1 && fits(plan.estimate(single), single, margin)) {
                would.add("one task per " + (shape.gpu() ? "GPU" : "executor") + " (spark.task.cpus = "
                        + "spark.executor.cores)");
            }
        }
        return new Verdict(plan, e, shape, margin, fits, would);
    }

    /** Throws {@link MemoryPlanException} unless the plan fits. */
    public static Verdict require(StagePlan plan, ExecutorShape shape, double margin) {
        Verdict v = check(plan, shape, margin);
        if (!v.fits()) {
            throw new MemoryPlanException(message(v));
        }
        LOG.info("memory: {} needs {} tensors ({}) and {} heap per executor{}, x {} margin: fits ({})", plan.stage(),
                gib(v.estimate().bytes(Term.Part.TENSORS)), shape.gpu() ? "per GPU" : "native",
                gib(v.estimate().bytes(Term.Part.HEAP)), shape.tasks() > 1 ? " (" + shape.tasks() + " tasks)" : "",
                margin, shape.source());
        return v;
    }

    /**
     * The check of a job, with the settings and executor shape of its Spark session; skipped (logged) when
     * {@code spruce.memory.check = false}.
     */
    public static void require(SparkSession spark, StagePlan plan, boolean cpuOnly) {
        if (!Boolean.parseBoolean(spark.conf().get(CHECK_KEY, "true"))) {
            LOG.info("memory: check of {} skipped (spruce.memory.check = false)", plan.stage());
            return;
        }
        org.apache.spark.SparkConf conf = spark.sparkContext().getConf().clone();
        String gpu = spark.conf().get(GPU_KEY, conf.get(GPU_KEY, ""));
        double margin = Double.parseDouble(spark.conf().get(MARGIN_KEY, conf.get(MARGIN_KEY,
                Double.toString(DEFAULT_MARGIN))));
        require(plan, ExecutorShape.of(conf, cpuOnly, gpu), margin);
    }

    /** One line: the settings, every term, the totals against the budget, and what would fit. */
    static String message(Verdict v) {
        Estimate e = v.estimate();
        ExecutorShape s = v.shape();
        StringBuilder m = new StringBuilder("memory: ").append(v.plan().stage()).append(" does not fit one executor (")
                .append(v.plan().describe()).append("; ").append(e.tasks()).append(e.tasks() == 1 ? " task" : " tasks")
                .append(" per resident model): ");
        List<String> parts = new ArrayList<>();
        for (Term t : e.terms()) {
            parts.add(t.name() + " " + gib(t.bytes()));
        }
        m.append(String.join(", ", parts));
        String tensors = s.gpu() ? "GPU" : "native";
        m.append("; total ").append(tensors).append(' ').append(gib(e.bytes(Term.Part.TENSORS))).append(" x margin ")
                .append(v.margin()).append(" = ").append(gib(e.bytes(Term.Part.TENSORS) * v.margin()))
                .append(" against ").append(s.tensorBytes() == 0 ? "unknown" : gib(s.tensorBytes()))
                .append(s.gpu() ? " per GPU" : " native budget");
        m.append(", total heap ").append(gib(e.bytes(Term.Part.HEAP))).append(" x margin ").append(v.margin())
                .append(" = ").append(gib(e.bytes(Term.Part.HEAP) * v.margin())).append(" against ")
                .append(gib(s.heapBytes())).append(" heap");
        m.append(" (").append(s.source()).append("); ");
        m.append(v.wouldFit().isEmpty() ? "no single change of micro-batch, dtype, criterion, teacher or trainable "
                + "fits: use executors with more memory" : "would fit: " + String.join(" or ", v.wouldFit()));
        m.append("; spruce.memory.check = false skips this check");
        return m.toString();
    }

    /** The table of {@code spruce plan --dry-run}: one block per stage, term by term, and its verdict. */
    public static void print(PrintWriter w, Verdict v) {
        Estimate e = v.estimate();
        ExecutorShape s = v.shape();
        String tensors = s.gpu() ? "gpu" : "native";
        w.printf(Locale.ROOT, "stage %s: %s; %d task(s) per resident model%n", v.plan().stage(), v.plan().describe(),
                e.tasks());
        if (e.terms().isEmpty()) {
            w.println("  no executor memory: the weights are read on the driver one tensor at a time");
            return;
        }
        String row = "  %-34s %-6s %10s  %s%n";
        w.printf(Locale.ROOT, row, "term", "part", "GiB", "formula");
        for (Term t : e.terms()) {
            w.printf(Locale.ROOT, row, t.name(), t.part() == Term.Part.HEAP ? "heap" : tensors,
                    String.format(Locale.ROOT, "%.2f", t.bytes() / (double) ExecutorShape.GIB), t.formula());
        }
        w.printf(Locale.ROOT, "  total %s %.2f GiB x %.2f = %.2f GiB of %s; heap %.2f GiB x %.2f = %.2f GiB of %.2f GiB: "
                        + "%s%n", tensors, e.bytes(Term.Part.TENSORS) / (double) ExecutorShape.GIB, v.margin(),
                e.bytes(Term.Part.TENSORS) * v.margin() / ExecutorShape.GIB,
                s.tensorBytes() == 0 ? "unknown" : String.format(Locale.ROOT, "%.2f GiB", s.tensorBytes()
                        / (double) ExecutorShape.GIB),
                e.bytes(Term.Part.HEAP) / (double) ExecutorShape.GIB, v.margin(),
                e.bytes(Term.Part.HEAP) * v.margin() / ExecutorShape.GIB, s.heapBytes() / (double) ExecutorShape.GIB,
                v.fits() ? "FITS" : "DOES NOT FIT");
        if (!v.fits()) {
            w.printf(Locale.ROOT, "  would fit: %s%n", v.wouldFit().isEmpty() ? "none of micro-batch, dtype, "
                    + "criterion, teacher source, trainable alone" : String.join(" or ", v.wouldFit()));
        }
    }

    static String gib(double bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / ExecutorShape.GIB);
    }
}
