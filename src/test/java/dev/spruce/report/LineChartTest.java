package dev.spruce.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class LineChartTest {
    private static int pixelsOf(BufferedImage image, int rgb, int x0, int x1) {
        int n = 0;
        for (int x = x0; x < x1; x++) {
            for (int y = 0; y < image.getHeight(); y++) {
                if ((image.getRGB(x, y) & 0xffffff) == rgb) {
                    n++;
                }
            }
        }
        return n;
    }

    @Test
    void drawsEachSeriesInItsPaletteColorAcrossItsXRange() throws IOException {
        // The first series spans the whole x range, the second only its left half.
        LineChart chart = new LineChart("Loss", "step", "loss", List.of(
                new LineChart.Series("train", new double[] {1, 2, 3, 4}, new double[] {3, 2.5, 2.2, 2.0}, false),
                new LineChart.Series("validation", new double[] {1, 2}, new double[] {2.9, Double.NaN}, true)));
        byte[] png = chart.png(800, 500);
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        assertEquals(800, image.getWidth());
        assertEquals(500, image.getHeight());
        int blue = ChartStyle.color(0).getRGB() & 0xffffff;
        int orange = ChartStyle.color(1).getRGB() & 0xffffff;
        // Legend swatches sit above the plot (y < 70); count only the plot area's columns right of the axis.
        assertTrue(pixelsOf(image, blue, 600, 760) > 20, "train line missing on the right");
        assertTrue(pixelsOf(image, orange, 90, 200) > 10, "validation marker missing");
        assertEquals(0, pixelsOf(image, orange, 600, 760), "validation drawn where it has no point");
    }

    @Test
    void mismatchedSeriesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LineChart.Series("train", new double[] {1, 2}, new double[] {1}, false));
        assertTrue(e.getMessage().contains("train"), e.getMessage());
    }
}
