package dev.cllm.bench;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A small line chart drawn with Java2D (headless): title, axes with ticks and grid, one line with markers per
 * series, dashed horizontal reference lines, and a legend to the right of the plot. The x axis is linear or base-2
 * logarithmic (block sizes); the y axis is linear and includes 0. Points whose y is NaN are left out. Written as PNG.
 */
public final class LineChart {
    private static final Color[] COLORS = {new Color(0x0072B2), new Color(0xD55E00), new Color(0x009E73),
        new Color(0xCC79A7), new Color(0xE69F00), new Color(0x56B4E9), new Color(0x000000), new Color(0x999933)};
    private static final Color GRID = new Color(0xE4E4E4);
    private static final Color REFERENCE = new Color(0x777777);

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    /** One line: points (x[i], y[i]). */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            Objects.requireNonNull(name, "name");
            if (x.length != y.length) {
                throw new IllegalArgumentException(x.length + " x values for " + y.length + " y values");
            }
            x = x.clone();
            y = y.clone();
        }
    }

    private record Reference(double y, String label) {
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private String subtitle;
    private boolean logX;
    private final List<Series> series = new ArrayList<>();
    private final List<Reference> references = new ArrayList<>();

    public LineChart(String title, String xLabel, String yLabel) {
        this.title = Objects.requireNonNull(title, "title");
        this.xLabel = Objects.requireNonNull(xLabel, "xLabel");
        this.yLabel = Objects.requireNonNull(yLabel, "yLabel");
    }

    /** A smaller second line under the title. */
    public LineChart subtitle(String text) {
        this.subtitle = text;
        return this;
    }

    /** Base-2 logarithmic x axis, ticks at powers of two (x values must be positive). */
    public LineChart logX() {
        this.logX = true;
        return this;
    }

    public LineChart add(String name, double[] x, double[] y) {
        series.add(new Series(name, x, y));
        return this;
    }

    /** A dashed horizontal line at {@code y}, labelled at its right end. */
    public LineChart horizontalLine(double y, String label) {
        references.add(new Reference(y, label));
        return this;
    }

    public List<Series> series() {
        return List.copyOf(series);
    }

    /** Writes the chart as a PNG of {@code width} x {@code height} pixels (parent directories created). */
    public void writePng(Path file, int width, int height) throws IOException {
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        if (!ImageIO.write(render(width, height), "png", file.toFile())) {
            throw new IOException("no PNG writer in this JVM");
        }
    }

    /** Draws the chart. */
    public BufferedImage render(int width, int height) {
        if (width < 200 || height < 150) {
            throw new IllegalArgumentException("chart too small: " + width + "x" + height);
        }
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            draw(g, width, height);
        } finally {
            g.dispose();
        }
        return image;
    }

    private void draw(Graphics2D g, int width, int height) {
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);

        float unit = Math.min(width / 900f, height / 560f) * 16f;   // the base font size, scaled with the image
        Font base = new Font(Font.SANS_SERIF, Font.PLAIN, Math.round(Math.max(11f, unit)));
        Font small = base.deriveFont(base.getSize2D() * 0.85f);
        Font titleFont = base.deriveFont(Font.BOLD, base.getSize2D() * 1.3f);
        int pad = Math.round(base.getSize2D());

        // the data range
        double[] xr = range(true);
        double[] yr = range(false);
        Ticks xTicks = logX ? Ticks.powersOfTwo(xr[0], xr[1]) : Ticks.nice(xr[0], xr[1]);
        double yLo = Math.min(0, yr[0]);
        Ticks yTicks = Ticks.nice(yLo, yr[1] + (yr[1] - yLo) * 0.04);   // headroom above the highest point

        // the layout: title on top, legend on the right, tick labels and axis labels left and below
        FontMetrics fm = g.getFontMetrics(base);
        FontMetrics fs = g.getFontMetrics(small);
        FontMetrics ft = g.getFontMetrics(titleFont);
        int top = pad + ft.getHeight() + (subtitle != null ? fs.getHeight() : 0) + pad;
        int yTickWidth = 0;
        for (double t : yTicks.values) {
            yTickWidth = Math.max(yTickWidth, fm.stringWidth(yTicks.label(t)));
        }
        int left = pad + fm.getHeight() + pad / 2 + yTickWidth + pad / 2;
        int bottom = pad / 2 + fm.getHeight() + pad / 2 + fm.getHeight() + pad;
        int legendWidth = 0;
        for (Series s : series) {
            legendWidth = Math.max(legendWidth, fm.stringWidth(s.name()));
        }
        int swatch = Math.round(base.getSize2D() * 2.2f);
        int right = series.isEmpty() ? pad * 2 : pad + swatch + pad / 2 + legendWidth + pad * 2;
        Rectangle2D plot = new Rectangle2D.Double(left, top, Math.max(40, width - left - right),
                Math.max(40, height - top - bottom));

        double x0 = logX ? log2(xTicks.min) : xTicks.min;
        double x1 = logX ? log2(xTicks.max) : xTicks.max;
        if (logX) {   // a little room beside the first and last tick
            double margin = Math.max(0.25, (x1 - x0) * 0.04);
            x0 -= margin;
            x1 += margin;
        }
        Scale sx = new Scale(x0, x1, plot.getMinX(), plot.getMaxX(), logX);
        Scale sy = new Scale(yTicks.min, yTicks.max, plot.getMaxY(), plot.getMinY(), false);

        // title
        g.setColor(Color.BLACK);
        g.setFont(titleFont);
        int titleX = (int) Math.max(pad, plot.getCenterX() - ft.stringWidth(title) / 2.0);
        g.drawString(title, titleX, pad + ft.getAscent());
        if (subtitle != null) {
            g.setFont(small);
            g.setColor(new Color(0x444444));
            g.drawString(subtitle, (int) Math.max(pad, plot.getCenterX() - fs.stringWidth(subtitle) / 2.0),
                    pad + ft.getHeight() + fs.getAscent());
        }

        // grid, ticks, tick labels
        float line = Math.max(1f, unit / 14f);
        g.setFont(base);
        for (double t : yTicks.values) {
            double y = sy.map(t);
            g.setColor(GRID);
            g.setStroke(new BasicStroke(line));
            g.draw(new Line2D.Double(plot.getMinX(), y, plot.getMaxX(), y));
            g.setColor(Color.BLACK);
            g.draw(new Line2D.Double(plot.getMinX() - pad / 3.0, y, plot.getMinX(), y));
            String label = yTicks.label(t);
            g.drawString(label, (float) (plot.getMinX() - pad / 2.0 - fm.stringWidth(label)),
                    (float) (y + fm.getAscent() / 2.0 - fm.getDescent() / 2.0));
        }
        for (double t : xTicks.values) {
            double x = sx.map(t);
            g.setColor(GRID);
            g.setStroke(new BasicStroke(line));
            g.draw(new Line2D.Double(x, plot.getMinY(), x, plot.getMaxY()));
            g.setColor(Color.BLACK);
            g.draw(new Line2D.Double(x, plot.getMaxY(), x, plot.getMaxY() + pad / 3.0));
            String label = xTicks.label(t);
            g.drawString(label, (float) (x - fm.stringWidth(label) / 2.0),
                    (float) (plot.getMaxY() + pad / 2.0 + fm.getAscent()));
        }

        // axes and axis labels
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(line * 1.3f));
        g.draw(new Line2D.Double(plot.getMinX(), plot.getMaxY(), plot.getMaxX(), plot.getMaxY()));
        g.draw(new Line2D.Double(plot.getMinX(), plot.getMinY(), plot.getMinX(), plot.getMaxY()));
        g.drawString(xLabel, (float) (plot.getCenterX() - fm.stringWidth(xLabel) / 2.0),
                (float) (plot.getMaxY() + pad / 2.0 + fm.getHeight() + pad / 2.0 + fm.getAscent()));
        Graphics2D rotated = (Graphics2D) g.create();
        rotated.translate(pad + fm.getAscent(), plot.getCenterY() + fm.stringWidth(yLabel) / 2.0);
        rotated.rotate(-Math.PI / 2);
        rotated.drawString(yLabel, 0, 0);
        rotated.dispose();

        // reference lines
        g.setFont(small);
        for (Reference r : references) {
            if (r.y() < yTicks.min || r.y() > yTicks.max) {
                continue;
            }
            double y = sy.map(r.y());
            g.setColor(REFERENCE);
            g.setStroke(new BasicStroke(line * 1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                    new float[]{line * 6, line * 4}, 0f));
            g.draw(new Line2D.Double(plot.getMinX(), y, plot.getMaxX(), y));
            g.drawString(r.label(), (float) (plot.getMaxX() - fs.stringWidth(r.label()) - pad / 3.0),
                    (float) (y - fs.getDescent() - line * 2));
        }

        // series
        g.setClip(new Rectangle2D.Double(plot.getMinX() - pad, plot.getMinY() - pad, plot.getWidth() + 2 * pad,
                plot.getHeight() + 2 * pad));
        float marker = Math.max(4f, unit * 0.32f);
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            g.setColor(COLORS[i % COLORS.length]);
            g.setStroke(new BasicStroke(line * 2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            Path2D path = new Path2D.Double();
            boolean penDown = false;
            for (int k = 0; k < s.x().length; k++) {
                if (!finite(s.x()[k], s.y()[k])) {
                    penDown = false;
                    continue;
                }
                double px = sx.map(s.x()[k]);
                double py = sy.map(s.y()[k]);
                if (penDown) {
                    path.lineTo(px, py);
                } else {
                    path.moveTo(px, py);
                    penDown = true;
                }
            }
            g.draw(path);
            for (int k = 0; k < s.x().length; k++) {
                if (finite(s.x()[k], s.y()[k])) {
                    g.fill(marker(i, sx.map(s.x()[k]), sy.map(s.y()[k]), marker));
                }
            }
        }
        g.setClip(null);

        // legend
        g.setFont(base);
        double ly = plot.getMinY() + fm.getHeight() / 2.0;
        double lx = plot.getMaxX() + pad;
        for (int i = 0; i < series.size(); i++) {
            g.setColor(COLORS[i % COLORS.length]);
            g.setStroke(new BasicStroke(line * 2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            g.draw(new Line2D.Double(lx, ly, lx + swatch, ly));
            g.fill(marker(i, lx + swatch / 2.0, ly, marker));
            g.setColor(Color.BLACK);
            g.drawString(series.get(i).name(), (float) (lx + swatch + pad / 2.0),
                    (float) (ly + fm.getAscent() / 2.0 - fm.getDescent() / 2.0));
            ly += fm.getHeight() * 1.4;
        }
    }

    private static Shape marker(int index, double x, double y, float r) {
        switch (index % 4) {
            case 1 -> {
                return new Rectangle2D.Double(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7);
            }
            case 2 -> {
                Polygon p = new Polygon();
                p.addPoint((int) Math.round(x), (int) Math.round(y - r * 1.15));
                p.addPoint((int) Math.round(x + r), (int) Math.round(y + r * 0.8));
                p.addPoint((int) Math.round(x - r), (int) Math.round(y + r * 0.8));
                return p;
            }
            case 3 -> {
                Polygon p = new Polygon();
                p.addPoint((int) Math.round(x), (int) Math.round(y - r * 1.2));
                p.addPoint((int) Math.round(x + r * 1.2), (int) Math.round(y));
                p.addPoint((int) Math.round(x), (int) Math.round(y + r * 1.2));
                p.addPoint((int) Math.round(x - r * 1.2), (int) Math.round(y));
                return p;
            }
            default -> {
                return new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r);
            }
        }
    }

    /** [min, max] of the finite x or y values and reference lines; a unit range when there are none. */
    private double[] range(boolean x) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int k = 0; k < s.x().length; k++) {
                if (finite(s.x()[k], s.y()[k]) && (!logX || s.x()[k] > 0)) {
                    double v = x ? s.x()[k] : s.y()[k];
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
        }
        if (!x) {
            for (Reference r : references) {
                min = Math.min(min, r.y());
                max = Math.max(max, r.y());
            }
        }
        if (min > max) {
            return new double[]{x && logX ? 1 : 0, x && logX ? 2 : 1};
        }
        if (min == max) {
            return x && logX ? new double[]{min / 2, max * 2} : new double[]{min - 1, max + 1};
        }
        return new double[]{min, max};
    }

    private static boolean finite(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y);
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }

    /** Data to pixels along one axis. */
    private record Scale(double from, double to, double pixelFrom, double pixelTo, boolean log) {
        double map(double v) {
            double t = ((log ? log2(v) : v) - from) / (to - from);
            return pixelFrom + t * (pixelTo - pixelFrom);
        }
    }

    /** Tick positions and their labels. */
    static final class Ticks {
        final double min;
        final double max;
        final List<Double> values;
        private final int decimals;

        private Ticks(double min, double max, List<Double> values, int decimals) {
            this.min = min;
            this.max = max;
            this.values = values;
            this.decimals = decimals;
        }

        /** Round-number ticks (steps of 1, 2 or 5 times a power of ten) covering [lo, hi], about 6 of them. */
        static Ticks nice(double lo, double hi) {
            double raw = (hi - lo) / 6;
            double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
            double f = raw / magnitude;
            double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
            double first = Math.floor(lo / step + 1e-9) * step;
            double last = Math.ceil(hi / step - 1e-9) * step;
            List<Double> values = new ArrayList<>();
            for (int k = 0; first + k * step <= last + step * 1e-6; k++) {
                values.add(first + k * step);
            }
            int decimals = Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
            return new Ticks(first, last, values, decimals);
        }

        /** Ticks at the powers of two from below {@code lo} to above {@code hi}. */
        static Ticks powersOfTwo(double lo, double hi) {
            double first = Math.pow(2, Math.floor(log2(lo) + 1e-9));
            double last = Math.pow(2, Math.ceil(log2(hi) - 1e-9));
            List<Double> values = new ArrayList<>();
            for (double v = first; v <= last * (1 + 1e-9); v *= 2) {
                values.add(v);
            }
            return new Ticks(first, last, values, first < 1 ? (int) Math.ceil(-log2(first) * 0.302) : 0);
        }

        String label(double v) {
            return String.format(Locale.ROOT, "%." + decimals + "f", v + 0.0);
        }
    }
}
