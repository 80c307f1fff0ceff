package dev.spruce.report;

import java.awt.BasicStroke;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A line chart drawn with Java2D without a display, in the style of {@link BarChart}: one colored line per
 * series over a shared numeric x axis (training curves: loss against step), optional point markers for
 * sparse series, a legend under the title, linear axes fitted to the data. NaN points are skipped.
 */
public final class LineChart {
    /** One line: a legend name, x and y values of equal length, and whether to mark each point. */
    public record Series(String name, double[] x, double[] y, boolean markers) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series " + name + " has " + x.length + " x values and "
                        + y.length + " y values");
            }
            x = x.clone();
            y = y.clone();
        }
    }

    private static final int LEFT = 96;
    private static final int RIGHT = 32;
    private static final int TOP = 92;
    private static final int BOTTOM = 64;

    private final String title;
    private final String xAxisLabel;
    private final String yAxisLabel;
    private final List<Series> series;

    public LineChart(String title, String xAxisLabel, String yAxisLabel, List<Series> series) {
        this.title = title;
        this.xAxisLabel = xAxisLabel;
        this.yAxisLabel = yAxisLabel;
        this.series = List.copyOf(series);
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
            Axis x = axis(true);
            Axis y = axis(false);
            int left = LEFT;
            int right = width - RIGHT;
            int top = TOP;
            int bottom = height - BOTTOM;
            drawAxes(g, x, y, left, right, top, bottom);
            for (int s = 0; s < series.size(); s++) {
                drawSeries(g, s, x, y, left, right, top, bottom);
            }
        } finally {
            g.dispose();
        }
        return image;
    }

    /** A linear range with ticks at a nice step, covering every finite value. */
    private record Axis(double low, double high, double step) {
        double fraction(double v) {
            return (v - low) / (high - low);
        }
    }

    private Axis axis(boolean horizontal) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            double[] values = horizontal ? s.x() : s.y();
            for (int i = 0; i < values.length; i++) {
                if (Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i])) {
                    min = Math.min(min, values[i]);
                    max = Math.max(max, values[i]);
                }
            }
        }
        if (min > max) {
            return new Axis(0, 1, 0.2);
        }
        if (max - min < 1e-12 * Math.max(1, Math.abs(max))) {
            min -= 0.5;
            max += 0.5;
        }
        double step = ChartStyle.niceStep((max - min) / 5);
        return new Axis(Math.floor(min / step) * step, Math.ceil(max / step) * step, step);
    }

    private void drawAxes(Graphics2D g, Axis x, Axis y, int left, int right, int top, int bottom) {
        g.setFont(new Font(ChartStyle.FONT, Font.PLAIN, 13));
        FontMetrics fm = g.getFontMetrics();
        for (double tick = y.low(); tick <= y.high() + y.step() * 1e-6; tick += y.step()) {
            int py = (int) Math.round(bottom - y.fraction(tick) * (bottom - top));
            g.setColor(ChartStyle.GRID);
            g.drawLine(left, py, right, py);
            g.setColor(ChartStyle.TEXT);
            String label = ChartStyle.tickLabel(tick);
            g.drawString(label, left - 8 - fm.stringWidth(label), py + fm.getAscent() / 2 - 1);
        }
        for (double tick = x.low(); tick <= x.high() + x.step() * 1e-6; tick += x.step()) {
            int px = (int) Math.round(left + x.fraction(tick) * (right - left));
            g.setColor(ChartStyle.TEXT);
            g.drawLine(px, bottom, px, bottom + 5);
            ChartStyle.drawCentered(g, ChartStyle.tickLabel(tick), px, bottom + 8 + fm.getAscent());
        }
        g.setColor(ChartStyle.TEXT);
        g.setStroke(new BasicStroke(1.5f));
        g.drawLine(left, top, left, bottom);
        g.drawLine(left, bottom, right, bottom);
        g.setStroke(new BasicStroke(1f));
        g.setFont(new Font(ChartStyle.FONT, Font.BOLD, 14));
        ChartStyle.drawCentered(g, xAxisLabel, (left + right) / 2, bottom + 48);
        AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        ChartStyle.drawCentered(g, yAxisLabel, -(top + bottom) / 2, 24);
        g.setTransform(saved);
    }

    private void drawSeries(Graphics2D g, int index, Axis x, Axis y, int left, int right, int top, int bottom) {
        Series s = series.get(index);
        g.setColor(ChartStyle.color(index));
        g.setStroke(new BasicStroke(2f));
        Path2D.Double line = new Path2D.Double();
        boolean started = false;
        for (int i = 0; i < s.x().length; i++) {
            if (!Double.isFinite(s.x()[i]) || !Double.isFinite(s.y()[i])) {
                continue;
            }
            double px = left + x.fraction(s.x()[i]) * (right - left);
            double py = bottom - y.fraction(s.y()[i]) * (bottom - top);
            if (started) {
                line.lineTo(px, py);
            } else {
                line.moveTo(px, py);
                started = true;
            }
            if (s.markers()) {
                g.fillOval((int) Math.round(px) - 4, (int) Math.round(py) - 4, 8, 8);
            }
        }
        g.draw(line);
        g.setStroke(new BasicStroke(1f));
    }
}
