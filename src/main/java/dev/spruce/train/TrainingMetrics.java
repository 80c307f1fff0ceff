package dev.spruce.train;

import dev.spruce.report.LineChart;
import java.util.ArrayList;
import java.util.List;

/**
 * One row per optimizer step, written as {@code metrics.csv} and drawn as {@code loss.png}. Values are
 * written with full precision so a resumed run restores its history exactly; a step without validation
 * has an empty {@code val_loss}.
 */
public final class TrainingMetrics {
    public static final String HEADER = "step,train_loss,val_loss,lr,grad_norm,tokens,seconds";

    /**
     * @param trainLoss      mean token NLL of the step's batch
     * @param validationLoss mean token NLL of the validation set after the step, NaN when not evaluated
     * @param learningRate   the rate the step was taken with
     * @param gradNorm       global gradient norm before clipping
     * @param tokens         predicted tokens of the step's batch
     * @param seconds        wall time of the step (validation and checkpoint excluded)
     */
    public record Row(long step, double trainLoss, double validationLoss, double learningRate, double gradNorm,
                      long tokens, double seconds) {
        Row withValidationLoss(double loss) {
            return new Row(step, trainLoss, loss, learningRate, gradNorm, tokens, seconds);
        }
    }

    private final List<Row> rows = new ArrayList<>();

    public List<Row> rows() {
        return List.copyOf(rows);
    }

    void add(Row row) {
        if (!rows.isEmpty() && row.step() <= rows.get(rows.size() - 1).step()) {
            throw new IllegalStateException("metrics rows must have increasing steps, got " + row.step() + " after "
                    + rows.get(rows.size() - 1).step());
        }
        rows.add(row);
    }

    /** Records the validation loss measured after the latest step. */
    void setLatestValidationLoss(double loss) {
        rows.set(rows.size() - 1, rows.get(rows.size() - 1).withValidationLoss(loss));
    }

    /** Predicted tokens over all steps. */
    public long tokens() {
        long n = 0;
        for (Row r : rows) {
            n += r.tokens();
        }
        return n;
    }

    public String toCsv() {
        StringBuilder out = new StringBuilder(HEADER).append('\n');
        for (Row r : rows) {
            out.append(r.step()).append(',').append(r.trainLoss()).append(',')
                    .append(Double.isNaN(r.validationLoss()) ? "" : Double.toString(r.validationLoss())).append(',')
                    .append(r.learningRate()).append(',').append(r.gradNorm()).append(',').append(r.tokens())
                    .append(',').append(r.seconds()).append('\n');
        }
        return out.toString();
    }

    /** Parses {@link #toCsv()} output; {@code where} names the file in errors. */
    public static TrainingMetrics parse(String csv, String where) {
        String[] lines = csv.split("\n");
        if (lines.length == 0 || !lines[0].equals(HEADER)) {
            throw new IllegalArgumentException(where + ": expected the header '" + HEADER + "'");
        }
        TrainingMetrics metrics = new TrainingMetrics();
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isEmpty()) {
                continue;
            }
            String[] f = lines[i].split(",", -1);
            if (f.length != 7) {
                throw new IllegalArgumentException(where + ": line " + (i + 1) + " has " + f.length
                        + " fields, expected 7");
            }
            try {
                metrics.add(new Row(Long.parseLong(f[0]), Double.parseDouble(f[1]),
                        f[2].isEmpty() ? Double.NaN : Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                        Double.parseDouble(f[4]), Long.parseLong(f[5]), Double.parseDouble(f[6])));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + ": line " + (i + 1) + " has a malformed number: "
                        + e.getMessage(), e);
            }
        }
        return metrics;
    }

    /** Training loss per step and validation loss where measured, against the step. */
    public LineChart lossChart() {
        double[] steps = new double[rows.size()];
        double[] train = new double[rows.size()];
        List<double[]> validation = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            steps[i] = rows.get(i).step();
            train[i] = rows.get(i).trainLoss();
            if (!Double.isNaN(rows.get(i).validationLoss())) {
                validation.add(new double[] {steps[i], rows.get(i).validationLoss()});
            }
        }
        double[] vx = validation.stream().mapToDouble(p -> p[0]).toArray();
        double[] vy = validation.stream().mapToDouble(p -> p[1]).toArray();
        return new LineChart("Training loss", "step", "mean token NLL", List.of(
                new LineChart.Series("train", steps, train, rows.size() == 1),
                new LineChart.Series("validation", vx, vy, true)));
    }
}
