package dev.spruce.train;

import dev.spruce.report.LineChart;
import java.util.ArrayList;
import java.util.List;

/**
 * One row per optimizer step, written as {@code metrics.csv} and drawn as {@code loss.png}. Values are
 * written with full precision so a resumed run restores its history exactly; a step without validation
 * has an empty {@code val_loss}. A {@link DriverTerm} adds columns of its own after the standard ones.
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
     * @param extras         the values of the extra columns, in their order
     */
    public record Row(long step, double trainLoss, double validationLoss, double learningRate, double gradNorm,
                      long tokens, double seconds, double[] extras) {
        public Row(long step, double trainLoss, double validationLoss, double learningRate, double gradNorm,
                   long tokens, double seconds) {
            this(step, trainLoss, validationLoss, learningRate, gradNorm, tokens, seconds, new double[0]);
        }

        public Row {
            extras = extras.clone();
        }

        @Override
        public double[] extras() {
            return extras.clone();
        }

        Row withValidationLoss(double loss) {
            return new Row(step, trainLoss, loss, learningRate, gradNorm, tokens, seconds, extras);
        }
    }

    private final List<String> extraColumns;
    private final List<Row> rows = new ArrayList<>();

    public TrainingMetrics() {
        this(List.of());
    }

    /** Metrics with extra columns named {@code extraColumns} after the standard ones. */
    public TrainingMetrics(List<String> extraColumns) {
        this.extraColumns = List.copyOf(extraColumns);
    }

    public List<String> extraColumns() {
        return extraColumns;
    }

    /** The values of extra column {@code column} per row, NaN where a row has none. */
    public double[] column(String column) {
        int c = extraColumns.indexOf(column);
        if (c < 0) {
            throw new IllegalArgumentException("metrics have no column '" + column + "'");
        }
        double[] out = new double[rows.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = rows.get(i).extras[c];
        }
        return out;
    }

    public List<Row> rows() {
        return List.copyOf(rows);
    }

    void add(Row row) {
        if (row.extras.length != extraColumns.size()) {
            throw new IllegalArgumentException("metrics row has " + row.extras.length + " extra values for columns "
                    + extraColumns);
        }
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
        StringBuilder out = new StringBuilder(header()).append('\n');
        for (Row r : rows) {
            out.append(r.step()).append(',').append(r.trainLoss()).append(',')
                    .append(Double.isNaN(r.validationLoss()) ? "" : Double.toString(r.validationLoss())).append(',')
                    .append(r.learningRate()).append(',').append(r.gradNorm()).append(',').append(r.tokens())
                    .append(',').append(r.seconds());
            for (double x : r.extras) {
                out.append(',').append(Double.isNaN(x) ? "" : Double.toString(x));
            }
            out.append('\n');
        }
        return out.toString();
    }

    private String header() {
        return extraColumns.isEmpty() ? HEADER : HEADER + "," + String.join(",", extraColumns);
    }

    /** Parses {@link #toCsv()} output; {@code where} names the file in errors. */
    public static TrainingMetrics parse(String csv, String where) {
        String[] lines = csv.split("\n");
        if (lines.length == 0 || !(lines[0].equals(HEADER) || lines[0].startsWith(HEADER + ","))) {
            throw new IllegalArgumentException(where + ": expected the header '" + HEADER + "'");
        }
        List<String> extras = lines[0].equals(HEADER) ? List.of()
                : List.of(lines[0].substring(HEADER.length() + 1).split(","));
        int fields = 7 + extras.size();
        TrainingMetrics metrics = new TrainingMetrics(extras);
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isEmpty()) {
                continue;
            }
            String[] f = lines[i].split(",", -1);
            if (f.length != fields) {
                throw new IllegalArgumentException(where + ": line " + (i + 1) + " has " + f.length
                        + " fields, expected " + fields);
            }
            try {
                double[] x = new double[extras.size()];
                for (int c = 0; c < x.length; c++) {
                    x[c] = f[7 + c].isEmpty() ? Double.NaN : Double.parseDouble(f[7 + c]);
                }
                metrics.add(new Row(Long.parseLong(f[0]), Double.parseDouble(f[1]),
                        f[2].isEmpty() ? Double.NaN : Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                        Double.parseDouble(f[4]), Long.parseLong(f[5]), Double.parseDouble(f[6]), x));
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
