package dev.cllm.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.DecodingSession;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.TorchConsistencyModel;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The same weights in several formats ({@code f32}: OpenBLAS on fp32 weights, {@code f16}: FBGEMM fp16, {@code int8}:
 * FBGEMM int8, see {@link CpuGemm#forWeights}), measured interleaved in one process: every round measures every
 * format once, in an order that rotates from round to round, so drift on a shared machine hits all formats alike.
 * Per round and format: AR ms per token (a prefill of {@code context} pseudo-text tokens, then {@code arTokens}
 * single-token passes with greedy selection, the passes alone timed) and the ms of a pass over n new tokens after
 * {@code context} cached ones (the median of {@value #PASS_REPEATS} passes). The results are medians over rounds,
 * and each format's ratio to the first format is the median of the per-round ratios. A warm-up round is not counted.
 * The AR tokens of each format are compared with the first format's: {@code agree_prefix} is how many leading greedy
 * tokens are the same.
 *
 * <p>Not JMH: JMH runs one configuration after another, and on a shared machine the drift between configurations
 * minutes apart was larger than the differences measured here. {@code ./cllm bench-weights} runs it.
 */
public final class WeightFormats {
    /** Timed passes per round, format and n; the median counts. */
    static final int PASS_REPEATS = 7;

    private WeightFormats() {
    }

    /** One format's medians over rounds. */
    public record Row(String model, String weights, String kernel, double arMsPerToken, double arRatio,
                      Map<Integer, Double> passMs, Map<Integer, Double> passRatio, int agreePrefix, int arTokens) {
    }

    /**
     * Measures {@code formats} of {@code model} for {@code rounds} rounds (after one warm-up round) with the thread
     * setting {@code threads} ({@code TORCH/BLAS} or {@code default}); progress goes to {@code log}.
     *
     * @throws IllegalArgumentException for an unknown model or format, or a count below 1
     */
    public static List<Row> run(String model, List<String> formats, int rounds, int arTokens, List<Integer> ns,
                                int context, String threads, PrintStream log) {
        if (rounds < 1 || arTokens < 1 || context < 1 || formats.isEmpty()
                || ns.stream().anyMatch(n -> n == null || n < 1)) {
            throw new IllegalArgumentException("rounds, AR tokens, context and every n must be >= 1, and at least one "
                    + "format given");
        }
        formats.forEach(CpuGemm::forWeights);   // fail on a bad name before loading anything
        BenchModels.missing(model).ifPresent(reason -> {
            throw new IllegalArgumentException(reason);
        });
        Threads.apply(threads);
        int f = formats.size();
        List<TorchConsistencyModel> models = new ArrayList<>();
        List<DecodingSession> sessions = new ArrayList<>();
        try {
            for (String format : formats) {
                TorchConsistencyModel m = BenchModels.load(model, "auto", CpuGemm.forWeights(format));
                models.add(m);
                int longest = Math.max(arTokens, ns.stream().mapToInt(Integer::intValue).max().orElse(1));
                sessions.add(m.newSession(context + longest + 1));
            }
            int vocab = models.get(0).config().vocabSize();
            int[] prompt = BenchModels.tokens(context, vocab, 1);
            double[][] ar = new double[f][rounds];
            double[][][] pass = new double[f][ns.size()][rounds];
            int[][] arIds = new int[f][];
            for (int round = -1; round < rounds; round++) {       // round -1 warms up
                for (int k = 0; k < f; k++) {
                    int i = Math.floorMod(k + round, f);
                    DecodingSession s = sessions.get(i);
                    s.rewind(0);
                    int next = s.prefill(prompt);
                    int[] ids = new int[arTokens];
                    long start = System.nanoTime();
                    for (int t = 0; t < arTokens; t++) {
                        ids[t] = next;
                        next = s.forward(new int[]{next})[0];
                        s.commit(1);
                    }
                    double ms = (System.nanoTime() - start) / 1e6 / arTokens;
                    s.rewind(context);
                    double[] passes = new double[ns.size()];
                    for (int j = 0; j < ns.size(); j++) {
                        int[] block = BenchModels.tokens(ns.get(j), vocab, 2);
                        double[] reps = new double[PASS_REPEATS];
                        for (int r = 0; r < PASS_REPEATS; r++) {
                            long t0 = System.nanoTime();
                            s.forward(block);
                            reps[r] = (System.nanoTime() - t0) / 1e6;
                            s.commit(0);
                        }
                        passes[j] = median(reps);
                    }
                    if (round >= 0) {
                        ar[i][round] = ms;
                        for (int j = 0; j < ns.size(); j++) {
                            pass[i][j][round] = passes[j];
                        }
                        arIds[i] = ids;
                    }
                }
                if (round >= 0) {
                    log.printf(Locale.ROOT, "bench-weights: round %d of %d: AR ms/token %s%n", round + 1, rounds,
                            describe(formats, ar, round));
                }
            }
            List<Row> rows = new ArrayList<>();
            for (int i = 0; i < f; i++) {
                double[] arRatios = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    arRatios[r] = ar[i][r] / ar[0][r];
                }
                Map<Integer, Double> passMs = new LinkedHashMap<>();
                Map<Integer, Double> passRatio = new LinkedHashMap<>();
                for (int j = 0; j < ns.size(); j++) {
                    double[] ratios = new double[rounds];
                    for (int r = 0; r < rounds; r++) {
                        ratios[r] = pass[i][j][r] / pass[0][j][r];
                    }
                    passMs.put(ns.get(j), median(pass[i][j]));
                    passRatio.put(ns.get(j), median(ratios));
                }
                int agree = Arrays.mismatch(arIds[i], arIds[0]);
                rows.add(new Row(model, formats.get(i), models.get(i).llama().gemm().name(), median(ar[i]),
                        median(arRatios), passMs, passRatio, agree < 0 ? arTokens : agree, arTokens));
            }
            return rows;
        } finally {
            sessions.forEach(DecodingSession::close);
            models.forEach(TorchConsistencyModel::close);
        }
    }

    /** The rows as a Markdown table; ratios are to the first format, medians of per-round ratios. */
    public static String markdown(List<Row> rows) {
        StringBuilder out = new StringBuilder("| model | weights | kernel | AR ms/token (ratio) | greedy tokens equal "
                + "to the first format's |");
        List<Integer> ns = rows.isEmpty() ? List.of() : List.copyOf(rows.get(0).passMs().keySet());
        for (int n : ns) {
            out.append(" t(").append(n).append(") ms (ratio) |");
        }
        out.append("\n|---|---|---|---:|---:|").append("---:|".repeat(ns.size())).append('\n');
        for (Row r : rows) {
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %.3f (%.2fx) | %d of %d |", r.model(),
                    r.weights(), r.kernel(), r.arMsPerToken(), r.arRatio(), r.agreePrefix(), r.arTokens()));
            for (int n : ns) {
                out.append(String.format(Locale.ROOT, " %.3f (%.2fx) |", r.passMs().get(n), r.passRatio().get(n)));
            }
            out.append('\n');
        }
        return out.toString();
    }

    /** The rows as JSON objects {@code {model, weights, kernel, ar_ms_per_token, ar_ratio, t<n>_ms, ...}}. */
    public static ArrayNode json(List<Row> rows) {
        ObjectMapper json = new ObjectMapper();
        ArrayNode out = json.createArrayNode();
        for (Row r : rows) {
            ObjectNode o = out.addObject();
            o.put("model", r.model()).put("weights", r.weights()).put("kernel", r.kernel())
                    .put("ar_ms_per_token", r.arMsPerToken()).put("ar_ratio", r.arRatio());
            r.passMs().forEach((n, ms) -> o.put("t" + n + "_ms", ms));
            r.passRatio().forEach((n, ratio) -> o.put("t" + n + "_ratio", ratio));
            o.put("agree_prefix", r.agreePrefix()).put("ar_tokens", r.arTokens());
        }
        return out;
    }

    private static String describe(List<String> formats, double[][] ar, int round) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < formats.size(); i++) {
            b.append(i == 0 ? "" : ", ").append(formats.get(i)).append(' ')
                    .append(String.format(Locale.ROOT, "%.3f", ar[i][round]));
        }
        return b.toString();
    }

    static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int m = v.length / 2;
        return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }
}
