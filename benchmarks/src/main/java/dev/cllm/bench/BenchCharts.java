package dev.cllm.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/** The charts of a run: generation speedup against block size, forward cost ratio against n. */
public final class BenchCharts {
    /** File name of the speedup chart. */
    public static final String SPEEDUP = "speedup-vs-block-size.png";
    /** File name of the forward-cost chart. */
    public static final String FORWARD = "forward-cost-ratio-vs-n.png";

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
