package dev.cllm.examples.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The demo's report as one self-contained HTML page: inline CSS, no scripts, no external resources, every piece of
 * text (tokens included) HTML-escaped.
 */
public final class HtmlReport {
    private static final String CSS = """
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 100%; }
            h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 1.5em; } h3 { font-size: 1.05em; }
            table.results { border-collapse: collapse; }
            table.results th, table.results td { padding: .25em .7em; border-bottom: 1px solid #ddd; }
            table.results td { text-align: right; font-variant-numeric: tabular-nums; }
            table.results td:first-child { text-align: left; font-family: monospace; }
            .setting { color: #555; } .warning { color: #b00; font-weight: bold; }
            .legend .ok { padding: 0 .3em; }
            section.trajectory { margin: 1.5em 0; overflow-x: auto; }
            table.block { border-collapse: separate; border-spacing: 2px; font-family: monospace; margin: .6em 0; }
            table.block caption { text-align: left; color: #555; padding: .2em 0; }
            table.block th { text-align: right; color: #555; font-weight: normal; padding-right: .5em;
                             white-space: nowrap; }
            table.block td { padding: .1em .35em; background: #f3f3f3; white-space: pre; }
            table.block td.acc { background: none; color: #555; }
            .ok { background: #b7e4b0 !important; color: #0a4d00; }
            code { background: #f3f3f3; padding: 0 .2em; }
            .right { color: #0a4d00; font-weight: bold; } .wrong { color: #b00; font-weight: bold; }
            """;

    private HtmlReport() {
    }

    /** Escapes {@code &}, {@code <}, {@code >}, {@code "} and {@code '}. */
    public static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /** The page. */
    public static String page(DemoReport report) {
        DemoReport.Setting s = report.setting();
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<title>cllm demo: Jacobi decoding, base model and CLLM</title>\n<style>\n").append(CSS)
                .append("</style>\n</head>\n<body>\n");
        h.append("<h1>cllm demo: ").append(escape(s.title())).append(", base model and CLLM</h1>\n");
        h.append("<p class=\"setting\">base model <code>").append(escape(s.base())).append("</code> (")
                .append(DemoReport.millions(s.baseParameters())).append(" parameters), CLLM <code>")
                .append(escape(s.cllm())).append("</code> (").append(DemoReport.millions(s.cllmParameters()))
                .append(" parameters)<br>\n");
        h.append(escape(String.format(Locale.ROOT, "%d of %d questions (task: %s), greedy, stop at EOS, at "
                        + "most %d new tokens; Jacobi block size %d; %d warm-up questions, %d timed sweep(s)",
                s.questions(), s.heldOut(), s.task(), s.maxNewTokens(), s.blockSize(), s.warmup(), s.repeats())))
                .append("<br>\n");
        h.append(escape(String.format(Locale.ROOT, "%d cores, %s, %s, libtorch %d thread(s), OpenBLAS %d thread(s)",
                s.cores(), s.platform(), s.device(), s.torchThreads(), s.blasThreads()))).append("</p>\n");

        h.append("<table class=\"results\">\n<tr><th>decoder</th><th>").append(escape(s.accuracyHeader()))
                .append("</th><th>exact</th><th>tokens/pass</th><th>tokens/s</th><th>speedup</th>"
                        + "<th>latency speedup</th><th>agrees</th></tr>\n");
        for (DemoReport.Row r : report.rows()) {
            h.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%.1f%%</td><td>%.1f%%</td><td>%.2f</td>"
                            + "<td>%.0f</td><td>%.2fx</td><td>%.2fx</td><td>%.1f%%</td></tr>%n", escape(r.decoder()),
                    100 * r.accuracy(), 100 * r.exactMatch(), r.tokensPerPass(), r.tokensPerS(), r.speedup(),
                    r.latencySpeedup(), 100 * r.agreesWithBase()));
        }
        h.append("</table>\n<p>").append(escape(report.gapSentence())).append("</p>\n");
        report.templateSentence().ifPresent(t -> h.append("<p>").append(escape(t)).append("</p>\n"));
        h.append("<ul class=\"setting\">\n");
        for (String d : s.definitions()) {
            h.append("<li>").append(escape(d)).append("</li>\n");
        }
        h.append("</ul>\n");
        for (DemoReport.Check c : report.checks()) {
            if (c.mismatches() == 0) {
                h.append("<p>lossless: ").append(escape(c.decoder())).append(" output = ")
                        .append(escape(c.reference())).append(" output on all ").append(s.questions())
                        .append(" questions</p>\n");
            } else {
                h.append("<p class=\"warning\">").append(escape(DemoReport.mismatchWarning(c, s.questions())))
                        .append("</p>\n");
            }
        }

        for (DemoReport.Shown shown : report.shown()) {
            h.append("<h2>Jacobi trajectories of question ").append(shown.number()).append("</h2>\n");
            h.append("<p>").append(escape(shown.source())).append(": ").append(escape(shown.question()))
                    .append("<br>\ngold: <code>").append(escape(shown.gold())).append("</code></p>\n");
            h.append("<p class=\"legend\"><span class=\"ok\">green</span> = already equal to the fixed point (the "
                    + "final output) at its position; one row per forward pass, +k = tokens that pass accepted</p>\n");
            for (TrajectoryView v : shown.views()) {
                v.appendHtml(h);
            }
        }
        h.append("</body>\n</html>\n");
        return h.toString();
    }

    /**
     * Writes the page to {@code file} (its directory created if needed) and returns the file's absolute path.
     *
     * @throws UncheckedIOException if it cannot be written
     */
    public static Path write(DemoReport report, Path file) {
        Path absolute = file.toAbsolutePath();
        try {
            if (absolute.getParent() != null) {
                Files.createDirectories(absolute.getParent());
            }
            Files.writeString(absolute, page(report), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + absolute, e);
        }
        return absolute;
    }
}
