package dev.cllm.bench;

import org.apache.commons.io.output.CloseShieldOutputStream;
import org.apache.commons.io.output.TeeOutputStream;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A results folder: {@code results.json} (what {@code --json} prints), {@code results.md} (header and tables),
 * {@code machine.json} (CPU, JVM and flags, threads, command line, date), the PNG charts, and {@code jmh.log} (JMH's
 * own output) with {@code jmh-<benchmark>.json} (JMH's raw results) written while the benchmarks run.
 */
public final class ResultsFolder {
    /** Chart width in pixels. */
    public static final int CHART_WIDTH = 1000;
    /** Chart height in pixels. */
    public static final int CHART_HEIGHT = 600;

    private ResultsFolder() {
    }

    /** {@code parent/<yyyyMMdd-HHmmss>}, with a suffix if that exists already. */
    public static Path timestamped(Path parent, LocalDateTime now) {
        String stamp = now.format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path dir = parent.resolve(stamp);
        for (int i = 2; Files.exists(dir); i++) {
            dir = parent.resolve(stamp + "-" + i);
        }
        return dir;
    }

    /**
     * Writes the results, the machine and the charts into {@code dir} (created) and returns the files written. A chart
     * that cannot be drawn (no fonts in a stripped-down JVM) is reported on {@code log} and left out.
     */
    public static List<Path> write(Path dir, BenchResults results, MachineInfo machine, PrintStream log)
            throws IOException {
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        String subtitle = machine == null ? null : shortMachine(machine);
        List<String> charts = new ArrayList<>();
        chart(dir, BenchCharts.speedup(results, subtitle), BenchCharts.SPEEDUP, log, charts, written);
        chart(dir, BenchCharts.forwardRatio(results, subtitle), BenchCharts.FORWARD, log, charts, written);
        chart(dir, BenchCharts.peers(results, subtitle), BenchCharts.PEERS, log, charts, written);
        written.add(0, writeString(dir.resolve("results.json"),
                BenchJson.pretty(BenchJson.results(results, machine, dir.toString()))));
        written.add(1, writeString(dir.resolve("results.md"), BenchMarkdown.document(results, machine, charts)));
        if (machine != null) {
            written.add(2, writeString(dir.resolve("machine.json"), BenchJson.pretty(BenchJson.machine(machine))));
        }
        return written;
    }

    private static void chart(Path dir, Optional<LineChart> chart, String name, PrintStream log, List<String> charts,
                              List<Path> written) {
        if (chart.isEmpty()) {
            return;
        }
        Path file = dir.resolve(name);
        try {
            chart.get().writePng(file, CHART_WIDTH, CHART_HEIGHT);
            charts.add(name);
            written.add(file);
        } catch (IOException | RuntimeException | Error e) {   // AWTError, font configuration errors
            log.println("bench: chart " + name + " not written: " + e);
        }
    }

    private static String shortMachine(MachineInfo m) {
        String cpu = m.cpuModel().replaceAll("\\s+", " ");
        return cpu + ", " + m.availableProcessors() + " cores; threads " + m.torchThreads() + "/" + m.blasThreads()
                + "; " + m.date().substring(0, Math.min(10, m.date().length()));
    }

    private static Path writeString(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file;
    }

    /** A stream that writes to {@code console} and appends to {@code file}; closing it leaves the console open. */
    public static PrintStream tee(PrintStream console, Path file) throws IOException {
        return new PrintStream(new TeeOutputStream(CloseShieldOutputStream.wrap(console), Files.newOutputStream(file)),
                true, StandardCharsets.UTF_8);
    }
}
