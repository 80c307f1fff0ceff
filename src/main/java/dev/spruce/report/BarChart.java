package dev.spruce.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A grouped bar chart drawn with Java2D without a display: one group per category, one colored bar per series
 * (model) in each group, the value written on every bar, a legend under the title, and a linear or log y axis.
 * Missing values (NaN) leave a gap.
 */
public final class BarChart {
    /** One series of bars: a name for the legend and a value per category. */
    public record Series(String name, double[] values) {
        public Series {
            values = values.clone();
        }
    }

    private static final int LEFT = 96;
    private static final int RIGHT = 24;
    private static final int TOP = 92;
    private static final int BOTTOM = 60;
    private static final double MAX_BAR_WIDTH = 110;

    private final String title;
    private final String yAxisLabel;
    private final List<String> categories;
    private final List<Series> series;
    private final boolean logScale;
    private final double axisMax;
    private final String valueFormat;

    private BarChart(String title, String yAxisLabel, List<String> categories, List<Series> series, boolean logScale,
                     double axisMax, String valueFormat) {
        for (Series s : series) {
            if (s.values().length != categories.size()) {
                throw new IllegalArgumentException("series " + s.name() + " has " + s.values().length
                        + " values for " + categories.size() + " categories");
            }
        }
        this.title = title;
        this.yAxisLabel = yAxisLabel;
        this.categories = List.copyOf(categories);
        this.series = List.copyOf(series);
        this.logScale = logScale;
        this.axisMax = axisMax;
        this.valueFormat = valueFormat;
    }

    public BarChart(String title, String yAxisLabel, List<String> categories, List<Series> series) {
        this(title, yAxisLabel, categories, series, false, Double.NaN, "%.2f");
    }

    /** A logarithmic y axis (for values spanning decades, such as perplexities of badly pruned models). */
    public BarChart withLogScale() {
        return new BarChart(title, yAxisLabel, categories, series, true, axisMax, valueFormat);
    }

    /** A fixed top of a linear y axis (100 for percentages) instead of one derived from the data. */
    public BarChart withAxisMax(double max) {
        return new BarChart(title, yAxisLabel, categories, series, logScale, max, valueFormat);
    }

    public BarChart withValueFormat(String format) {
        return new BarChart(title, yAxisLabel, categories, series, logScale, axisMax, format);
    }

    public byte[] png(int width, int height) {
        return ChartStyle.png(render(width, height), title);
    }

    public BufferedImage render(int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = ChartStyle.canvas(image);
        try {
            ChartStyle.drawTitle(g, title, width);
            ChartStyle.drawLegend(g, series.stream().map(Series::name).toList(), width, LEFT);
            Axis axis = axis();
            int left = LEFT;
            int right = width - RIGHT;
            int top = TOP;
            int bottom = height - BOTTOM;
            drawYAxis(g, axis, left, right, top, bottom);
            drawBars(g, axis, left, right, top, bottom);
            drawCategoryLabels(g, left, right, bottom);
        } finally {
            g.dispose();
        }
        return image;
    }

    /** The value range of the y axis and where its ticks go. */
    private record Axis(double low, double high, boolean log, List<Double> ticks) {
        double fraction(double value) {
            return log ? (Math.log10(value) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))
                    : (value - low) / (high - low);
        }
    }

    private Axis axis() {
        double max = 0;
        double minPositive = Double.POSITIVE_INFINITY;
        boolean anyNonPositive = false;
        for (Series s : series) {
            for (double v : s.values()) {
                if (Double.isNaN(v)) {
                    continue;
                }
                max = Math.max(max, v);
                if (v > 0) {
                    minPositive = Math.min(minPositive, v);
                } else {
                    anyNonPositive = true;
                }
            }
        }
        if (logScale && !anyNonPositive && minPositive < Double.POSITIVE_INFINITY) {
            // One decade below the smallest value, so that its bar is clearly visible (1 for perplexities >= 10).
            double low = Math.pow(10, Math.floor(Math.log10(minPositive)) - 1);
            double high = Math.pow(10, Math.ceil(Math.log10(max)));
            if (high <= low) {
                high = low * 10;
            }
            List<Double> ticks = new ArrayList<>();
            boolean fewDecades = high / low <= 1000;
            for (double decade = low; decade <= high * 1.0001; decade *= 10) {
                ticks.add(decade);
                if (fewDecades && decade * 2 < high) {
                    ticks.add(decade * 2);
                    ticks.add(decade * 5);
                }
            }
            return new Axis(low, high, true, ticks);
        }
        double top = Double.isNaN(axisMax) ? Math.max(max * 1.1, 1e-9) : axisMax;
        double step = ChartStyle.niceStep(top / 5);
        double high = Double.isNaN(axisMax) ? Math.ceil(top / step) * step : axisMax;
        List<Double> ticks = new ArrayList<>();
        for (double t = 0; t <= high * 1.0001; t += step) {
            ticks.add(t);
        }
        return new Axis(0, high, false, ticks);
    }

    private void drawYAxis(Graphics2D g, Axis axis, int left, int right, int top, int bottom) {
        g.setFont(new Font(ChartStyle.FONT, Font.PLAIN, 13));
        FontMetrics fm = g.getFontMetrics();
        for (double tick : axis.ticks()) {
            int y = yOf(axis, tick, top, bottom);
            g.setColor(ChartStyle.GRID);
            g.drawLine(left, y, right, y);
            g.setColor(ChartStyle.TEXT);
            String label = ChartStyle.tickLabel(tick);
            g.drawString(label, left - 8 - fm.stringWidth(label), y + fm.getAscent() / 2 - 1);
        }
        g.setColor(ChartStyle.TEXT);
        g.setStroke(new BasicStroke(1.5f));
        g.drawLine(left, top, left, bottom);
        g.drawLine(left, bottom, right, bottom);
        g.setStroke(new BasicStroke(1f));
        g.setFont(new Font(ChartStyle.FONT, Font.BOLD, 14));
        AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        ChartStyle.drawCentered(g, yAxisLabel, -(top + bottom) / 2, 24);
        g.setTransform(saved);
    }

    private void drawBars(Graphics2D g, Axis axis, int left, int right, int top, int bottom) {
        double groupWidth = (right - left) / (double) categories.size();
        double barWidth = Math.min(groupWidth * 0.8 / series.size(), MAX_BAR_WIDTH);
        double groupPadding = (groupWidth - barWidth * series.size()) / 2;
        for (int c = 0; c < categories.size(); c++) {
            for (int s = 0; s < series.size(); s++) {
                double value = series.get(s).values()[c];
                if (Double.isNaN(value)) {
                    continue;
                }
                int x = (int) Math.round(left + c * groupWidth + groupPadding + s * barWidth);
                int w = Math.max(1, (int) Math.round(barWidth) - 2);
                int yTop = Math.max(top, yOf(axis, Math.max(value, axis.low()), top, bottom));
                g.setColor(ChartStyle.color(s));
                g.fillRect(x, yTop, w, bottom - yTop);
                g.setColor(ChartStyle.color(s).darker());
                g.drawRect(x, yTop, w, bottom - yTop);
                drawValue(g, String.format(Locale.ROOT, valueFormat, value), x, w, yTop, bottom);
            }
        }
    }

    /** The value above its bar; turned upright when wider than the bar, and inside the bar when that fits. */
    private static void drawValue(Graphics2D g, String text, int x, int w, int yTop, int bottom) {
        g.setFont(new Font(ChartStyle.FONT, Font.PLAIN, 12));
        FontMetrics fm = g.getFontMetrics();
        int textWidth = fm.stringWidth(text);
        if (textWidth <= w + 4) {
            g.setColor(ChartStyle.TEXT);
            g.drawString(text, x + (w - textWidth) / 2, yTop - 4);
            return;
        }
        boolean inside = bottom - yTop > textWidth + 10;
        AffineTransform saved = g.getTransform();
        g.translate(x + w / 2.0 + fm.getAscent() / 2.0 - 1, inside ? yTop + 6 + textWidth : yTop - 4);
        g.rotate(-Math.PI / 2);
        g.setColor(inside ? Color.WHITE : ChartStyle.TEXT);
        g.drawString(text, 0, 0);
        g.setTransform(saved);
    }

    /** Each category's label centered under its group; a "\n" in a label starts a second line. */
    private void drawCategoryLabels(Graphics2D g, int left, int right, int bottom) {
        double groupWidth = (right - left) / (double) categories.size();
        g.setColor(ChartStyle.TEXT);
        for (int c = 0; c < categories.size(); c++) {
            String[] lines = categories.get(c).split("\n");
            for (int i = 0; i < lines.length; i++) {
                int size = 14;
                g.setFont(new Font(ChartStyle.FONT, Font.PLAIN, size));
                while (size > 9 && g.getFontMetrics().stringWidth(lines[i]) > groupWidth - 4) {
                    size--;
                    g.setFont(new Font(ChartStyle.FONT, Font.PLAIN, size));
                }
                ChartStyle.drawCentered(g, lines[i], (int) Math.round(left + (c + 0.5) * groupWidth),
                        bottom + 22 + 18 * i);
            }
        }
    }

    private static int yOf(Axis axis, double value, int top, int bottom) {
        return (int) Math.round(bottom - axis.fraction(value) * (bottom - top));
    }
}
