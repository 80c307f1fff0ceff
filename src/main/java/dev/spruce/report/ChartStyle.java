package dev.spruce.report;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** The look shared by spruce's charts (colors, fonts, title, legend, tick labels) and PNG encoding, headless. */
final class ChartStyle {
    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    static final Color[] PALETTE = {
        new Color(0x4E79A7), new Color(0xF28E2B), new Color(0x59A14F), new Color(0xE15759), new Color(0x76B7B2),
        new Color(0xEDC948), new Color(0xB07AA1), new Color(0xFF9DA7), new Color(0x9C755F), new Color(0xBAB0AC),
    };
    static final Color GRID = new Color(0xDDDDDD);
    static final Color TEXT = new Color(0x222222);
    static final String FONT = Font.SANS_SERIF;

    private ChartStyle() {}

    static Color color(int series) {
        return PALETTE[series % PALETTE.length];
    }

    /** A white, antialiased canvas; the caller disposes the graphics. */
    static Graphics2D canvas(BufferedImage image) {
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        return g;
    }

    static void drawTitle(Graphics2D g, String title, int width) {
        g.setFont(new Font(FONT, Font.BOLD, 20));
        g.setColor(TEXT);
        drawCentered(g, title, width / 2, 30);
    }

    /** One colored swatch and name per series, centered under the title but not left of {@code left}. */
    static void drawLegend(Graphics2D g, List<String> names, int width, int left) {
        g.setFont(new Font(FONT, Font.PLAIN, 14));
        FontMetrics fm = g.getFontMetrics();
        int swatch = 14;
        int total = 0;
        for (String name : names) {
            total += swatch + 6 + fm.stringWidth(name) + 24;
        }
        int x = Math.max(left, (width - (total - 24)) / 2);
        int y = 58;
        for (int i = 0; i < names.size(); i++) {
            g.setColor(color(i));
            g.fillRect(x, y - swatch + 2, swatch, swatch);
            g.setColor(TEXT);
            g.drawString(names.get(i), x + swatch + 6, y);
            x += swatch + 6 + fm.stringWidth(names.get(i)) + 24;
        }
    }

    /** 1, 2 or 5 times a power of ten, at least {@code rough}. */
    static double niceStep(double rough) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
        for (double factor : new double[] {1, 2, 5, 10}) {
            if (factor * magnitude >= rough) {
                return factor * magnitude;
            }
        }
        return 10 * magnitude;
    }

    static String tickLabel(double tick) {
        if (tick == Math.rint(tick) && Math.abs(tick) < 1e15) {
            return String.format(Locale.ROOT, "%,d", (long) tick);
        }
        return String.format(Locale.ROOT, "%.3g", tick);
    }

    static void drawCentered(Graphics2D g, String text, int centerX, int baseline) {
        g.drawString(text, centerX - g.getFontMetrics().stringWidth(text) / 2, baseline);
    }

    static byte[] png(BufferedImage image, String title) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(image, "png", out)) {
                throw new IllegalStateException("no PNG writer is available in this JVM");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode chart '" + title + "' as PNG", e);
        }
        return out.toByteArray();
    }
}
