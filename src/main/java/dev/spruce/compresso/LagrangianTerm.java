package dev.spruce.compresso;

import dev.spruce.report.BarChart;
import dev.spruce.report.LineChart;
import dev.spruce.train.DriverTerm;
import dev.spruce.train.TrainingMetrics;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Compresso's size constraint {@code λ1·(ŝ - t) + λ2·(ŝ - t)²}, with ŝ = 1 - E[N] / N the expected sparsity of the
 * whole model and t the scheduled target. It depends only on the mask logits and the multipliers, so the driver
 * computes it exactly in float64 and adds its gradient to the executors' LM gradient of the logits; the
 * multipliers' gradients are (ŝ - t) and (ŝ - t)², which their group ascends. After each update the logits are
 * clamped to [log 0.01, log 100].
 */
public final class LagrangianTerm implements DriverTerm {
    public static final List<String> COLUMNS = List.of("expected_params", "expected_sparsity", "target_sparsity",
            "lambda_1", "lambda_2", "lagrangian");
    public static final String SIZE_CHART = "size.png";
    public static final String LAMBDA_CHART = "lambdas.png";
    public static final String KEPT_CHART = "kept.png";

    private final MaskLayout layout;
    private final ExpectedSize size;

    public LagrangianTerm(MaskLayout layout) {
        this.layout = layout;
        this.size = new ExpectedSize(layout);
    }

    @Override
    public List<String> columns() {
        return COLUMNS;
    }

    @Override
    public Contribution apply(long step, Map<String, double[]> parameters, Map<String, double[]> gradients) {
        CompressoSettings s = layout.settings();
        ExpectedSize.Value e = size.evaluate(parameters, s.masksAt(step));
        double full = size.fullCount();
        double sparsity = 1 - e.expected() / full;
        double lambda1 = parameters.get(MaskLayout.LAMBDA_1)[0];
        double lambda2 = parameters.get(MaskLayout.LAMBDA_2)[0];
        if (!s.masksAt(step)) {
            return new Contribution(0, new double[] {e.expected(), sparsity, 0, lambda1, lambda2, 0});
        }
        double target = s.target(step);
        double gap = sparsity - target;
        double value = lambda1 * gap + lambda2 * gap * gap;
        double dValueDSparsity = lambda1 + 2 * lambda2 * gap;
        e.gradient().forEach((name, dExpected) -> {
            double[] g = gradients.get(name);
            for (int i = 0; i < g.length; i++) {
                g[i] -= dValueDSparsity * dExpected[i] / full; // dŝ = -dE / N
            }
        });
        gradients.get(MaskLayout.LAMBDA_1)[0] += gap;
        gradients.get(MaskLayout.LAMBDA_2)[0] += gap * gap;
        return new Contribution(value, new double[] {e.expected(), sparsity, target, lambda1, lambda2, value});
    }

    @Override
    public void afterUpdate(long step, Map<String, double[]> parameters) {
        if (layout.settings().masksAt(step)) {
            for (String name : layout.names()) {
                HardConcrete.clamp(parameters.get(name));
            }
        }
    }

    @Override
    public String describe(Contribution c) {
        double[] m = c.metrics();
        return String.format(Locale.ROOT, "expected size %,.0f (sparsity %.4f, target %.4f) lambda_1 %.4g lambda_2 "
                + "%.4g", m[0], m[1], m[2], m[3], m[4]);
    }

    @Override
    public Map<String, byte[]> charts(TrainingMetrics metrics, Map<String, double[]> parameters) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        double[] steps = metrics.rows().stream().mapToDouble(TrainingMetrics.Row::step).toArray();
        boolean markers = steps.length == 1;
        out.put(SIZE_CHART, new LineChart("Expected sparsity and target", "step", "fraction of parameters removed",
                List.of(new LineChart.Series("expected", steps, metrics.column("expected_sparsity"), markers),
                        new LineChart.Series("target", steps, metrics.column("target_sparsity"), markers)))
                .png(1000, 600));
        out.put(LAMBDA_CHART, new LineChart("Lagrange multipliers", "step", "value",
                List.of(new LineChart.Series("lambda_1", steps, metrics.column("lambda_1"), markers),
                        new LineChart.Series("lambda_2", steps, metrics.column("lambda_2"), markers)))
                .png(1000, 600));
        out.put(KEPT_CHART, keptChart(parameters).png(1000, 600));
        return out;
    }

    /** The expected kept fraction of heads (kv groups) and MLP channels per layer, under the current logits. */
    BarChart keptChart(Map<String, double[]> parameters) {
        HardConcrete hc = layout.settings().hardConcrete();
        List<String> layers = new ArrayList<>();
        int n = layout.config().numHiddenLayers();
        double[] heads = new double[n];
        double[] ffn = new double[n];
        for (int l = 0; l < n; l++) {
            layers.add(Integer.toString(l));
            heads[l] = keptFraction(hc, parameters.get(MaskLayout.heads(l)));
            ffn[l] = keptFraction(hc, parameters.get(MaskLayout.ffn(l)));
        }
        String title = String.format(Locale.ROOT, "Expected kept fraction per layer (hidden dimensions: %.3f)",
                keptFraction(hc, parameters.get(MaskLayout.HIDDEN)));
        return new BarChart(title, "kept fraction", layers,
                List.of(new BarChart.Series("heads", heads), new BarChart.Series("mlp channels", ffn)))
                .withAxisMax(1.0);
    }

    private static double keptFraction(HardConcrete hc, double[] logits) {
        if (logits == null) {
            return 1;
        }
        double kept = 0;
        for (double a : logits) {
            kept += hc.keepProbability(a);
        }
        return kept / logits.length;
    }
}
