package dev.cllm.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The charts of a run: generation speedup against block size, forward cost ratio against n, and the peer benchmark's
 * pass cost relative to llama.cpp Q8_0.
 */
public final class BenchCharts {
    /** File name of the speedup chart. */
    public static final String SPEEDUP = "speedup-vs-block-size.png";
    /** File name of the forward-cost chart. */
    public static final String FORWARD = "forward-cost-ratio-vs-n.png";
    /** File name of the peer benchmark's chart. */
    public static final String PEERS = "peers-cost-vs-q8_0.png";

    private BenchCharts() {
    }

    /**
     * Speedup over AR against block size (lookahead: window), one line per model and decoder (and dtype/threads where
     * several ran), each starting from AR at 1; empty if none.
     */
    public static Optional<LineChart> speedup(BenchResults results, String subtitle) {
        List<BenchResults.GenerationRow> rows = results.generation();
        if (rows.stream().noneMatch(r -> r.speedup() != null)) {
            return Optional.empty();
        }
        LineChart chart = new LineChart("Generation speedup over AR", "block size n (1 = AR)",
                "speedup (tokens/s over AR's)").logX().subtitle(subtitle).horizontalLine(1, "AR");
        List<String> decoders = rows.stream().map(BenchResults.GenerationRow::decoder).filter(d -> !d.equals("ar"))
                .distinct().toList();
        Function<BenchResults.GenerationRow, String> name = label(rows, BenchResults.GenerationRow::model,
                BenchResults.GenerationRow::dtype, BenchResults.GenerationRow::threads);
        // AR (block size 1) is the first point of every decoder's line
        List<BenchResults.GenerationRow> lines = new ArrayList<>();
        for (String decoder : decoders) {
            for (BenchResults.GenerationRow r : rows) {
                if (r.decoder().equals("ar") || r.decoder().equals(decoder)) {
                    lines.add(r.decoder().equals("ar") ? r.withDecoder(decoder) : r);
                }
            }
        }
        Function<BenchResults.GenerationRow, String> named = decoders.size() > 1
                ? r -> name.apply(r) + ", " + r.decoder() : name;
        group(lines.isEmpty() ? rows : lines, named).forEach((series, points) -> chart.add(series,
                points.stream().mapToDouble(BenchResults.GenerationRow::blockSize).toArray(),
                points.stream().mapToDouble(r -> r.speedup() == null ? Double.NaN : r.speedup()).toArray()));
        return Optional.of(chart);
    }

    /** Forward cost relative to n = 1 against n, one line per model (and dtype/threads/context where several ran). */
    public static Optional<LineChart> forwardRatio(BenchResults results, String subtitle) {
        List<BenchResults.ForwardRow> rows = results.forwardCost();
        if (rows.stream().noneMatch(r -> r.ratioTo1() != null)) {
            return Optional.empty();
        }
        LineChart chart = new LineChart("Forward cost of n new tokens relative to one", "new tokens per pass n",
                "ms per pass / ms at n = 1").logX().subtitle(subtitle);
        Function<BenchResults.ForwardRow, String> name = label(rows, BenchResults.ForwardRow::model,
                BenchResults.ForwardRow::dtype, BenchResults.ForwardRow::threads, r -> "ctx " + r.context());
        group(rows, name).forEach((series, points) -> chart.add(series,
                points.stream().mapToDouble(BenchResults.ForwardRow::n).toArray(),
                points.stream().mapToDouble(r -> r.ratioTo1() == null ? Double.NaN : r.ratioTo1()).toArray()));
        return Optional.of(chart);
    }

    /**
     * The peer benchmark: each engine's cost relative to llama.cpp Q8_0 (the medians of the per-round ratios), at the
     * AR step (x = 0.5, left of the passes) and at the passes over n new tokens, one line per model, engine and weight
     * format; Q8_0 itself is the line at 1. Empty if no run has ratios.
     */
    public static Optional<LineChart> peers(BenchResults results, String subtitle) {
        LineChart chart = new LineChart("Cost relative to llama.cpp Q8_0 on the same weights (lower is faster)",
                "new tokens per pass n (0.5: the AR step)", "ms / llama.cpp Q8_0's ms").logX().subtitle(subtitle)
                .horizontalLine(1, "llama.cpp Q8_0");
        boolean models = results.peers().stream().map(BenchResults.PeerRun::model).distinct().count() > 1;
        boolean threads = results.peers().stream().map(BenchResults.PeerRun::threads).distinct().count() > 1;
        for (BenchResults.PeerRun run : results.peers()) {
            for (BenchResults.PeerRow row : run.rows()) {
                if (row.isQ8Baseline()) {
                    continue;
                }
                List<double[]> points = new ArrayList<>();
                if (row.arRatio() != null) {
                    points.add(new double[]{0.5, row.arRatio()});
                }
                row.passRatio().forEach((n, ratio) -> {
                    if (ratio != null) {
                        points.add(new double[]{n, ratio});
                    }
                });
                if (points.isEmpty()) {
                    continue;
                }
                String name = (models ? run.model() + ", " : "") + (threads ? "threads " + run.threads() + ", " : "")
                        + row.engine() + " " + row.weights();
                chart.add(name, points.stream().mapToDouble(p -> p[0]).toArray(),
                        points.stream().mapToDouble(p -> p[1]).toArray());
            }
        }
        return chart.series().isEmpty() ? Optional.empty() : Optional.of(chart);
    }

    private static <R> Map<String, List<R>> group(List<R> rows, Function<R, String> name) {
        Map<String, List<R>> out = new LinkedHashMap<>();
        for (R r : rows) {
            out.computeIfAbsent(name.apply(r), k -> new ArrayList<>()).add(r);
        }
        return out;
    }

    /** The model, plus each other attribute that varies among the rows. */
    @SafeVarargs
    private static <R> Function<R, String> label(List<R> rows, Function<R, String> model,
                                                 Function<R, String>... others) {
        List<Function<R, String>> varying = new ArrayList<>();
        for (Function<R, String> f : others) {
            if (rows.stream().map(f).distinct().count() > 1) {
                varying.add(f);
            }
        }
        return r -> {
            StringBuilder s = new StringBuilder(model.apply(r));
            for (Function<R, String> f : varying) {
                s.append(", ").append(f.apply(r));
            }
            return s.toString();
        };
    }
}
