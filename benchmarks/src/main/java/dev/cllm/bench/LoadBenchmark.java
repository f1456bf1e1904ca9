package dev.cllm.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.DecodingSession;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.TorchConsistencyModel;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * What loading one model costs and how fast it then decodes: load time, the process's resident memory before the
 * load, its peak during the load ({@code VmHWM} of {@code /proc/self/status}; the page cache of the files read is not
 * part of it) and after it, against the bytes of the weights as loaded ({@code LlamaModel#weightBytes()}); then AR ms
 * per token (greedy single-token passes after a short prompt, one warm-up pass not counted).
 *
 * <p>One model per process: the peak is the process's, so measure each weight format in its own run
 * ({@code ./cllm bench-load}).
 */
public final class LoadBenchmark {
    private LoadBenchmark() {
    }

    /**
     * One measurement. Memory in bytes; {@code rssBefore}, {@code peakRss} and {@code rssAfter} are -1 where
     * {@code /proc/self/status} cannot be read.
     */
    public record Row(String model, String weights, String kernel, String threads, long parameters,
                      double loadSeconds, long weightBytes, long rssBefore, long peakRss, long rssAfter,
                      int promptTokens, int tokens, double arMsPerToken, double arMsMin, long peakRssAfterDecode) {
        /** Peak resident memory during the load over the weights' bytes. */
        public double peakOverWeights() {
            return (double) peakRss / weightBytes;
        }

        /** What the load added at its peak (peak minus the resident memory before it) over the weights' bytes. */
        public double addedPeakOverWeights() {
            return (double) (peakRss - rssBefore) / weightBytes;
        }
    }

    /**
     * Loads {@code model} (a benchmark model name: {@code dir:PATH}, {@code random-SHAPE}, ...) with weight format
     * {@code weights} ({@link CpuGemm#forWeights}), then decodes {@code tokens} greedy tokens after a prompt of
     * {@code promptTokens}.
     *
     * @throws IllegalArgumentException for an unknown model or format, or counts below 1
     */
    public static Row run(String model, String weights, int promptTokens, int tokens, String threads,
                          PrintStream log) {
        if (promptTokens < 1 || tokens < 1) {
            throw new IllegalArgumentException("prompt tokens and tokens must be >= 1");
        }
        CpuGemm gemm = CpuGemm.forWeights(weights);
        BenchModels.missing(model).ifPresent(reason -> {
            throw new IllegalArgumentException(reason);
        });
        Threads.apply(threads);   // loads libtorch, so that it is part of the baseline
        long before = status("VmRSS").orElse(-1);
        long start = System.nanoTime();
        try (TorchConsistencyModel m = BenchModels.load(model, "auto", gemm)) {
            double loadSeconds = (System.nanoTime() - start) / 1e9;
            long peak = status("VmHWM").orElse(-1);
            long after = status("VmRSS").orElse(-1);
            long weightBytes = m.llama().weightBytes();
            log.printf(Locale.ROOT, "bench-load: %s %s loaded in %.1f s; weights %.3f GB, peak RSS %.3f GB%n",
                    model, weights, loadSeconds, weightBytes / 1e9, peak / 1e9);
            double[] ms = new double[tokens];
            int[] prompt = BenchModels.tokens(promptTokens, m.config().vocabSize(), 1);
            try (DecodingSession s = m.newSession(promptTokens + tokens + 2)) {
                int next = s.prefill(prompt);
                next = s.forward(new int[]{next})[0];   // warm-up pass, not counted
                s.commit(1);
                for (int t = 0; t < tokens; t++) {
                    long t0 = System.nanoTime();
                    next = s.forward(new int[]{next})[0];
                    s.commit(1);
                    ms[t] = (System.nanoTime() - t0) / 1e6;
                }
            }
            return new Row(model, weights, m.llama().gemm().name(), Threads.describe(),
                    m.llama().parameterCount(), loadSeconds, weightBytes, before, peak, after, promptTokens, tokens,
                    Arrays.stream(ms).average().orElse(0), Arrays.stream(ms).min().orElse(0),
                    status("VmHWM").orElse(-1));
        }
    }

    /** The row as Markdown (a header line and the row). */
    public static String markdown(Row r) {
        return "| model | weights | kernel | threads | load s | weights GB | RSS before GB | peak RSS GB "
                + "| peak / weights | (peak - before) / weights | RSS after GB | AR ms/token (min) |\n"
                + "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
                + String.format(Locale.ROOT, "| %s | %s | %s | %s | %.1f | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.3f "
                                + "| %.1f (%.1f) |%n", r.model(), r.weights(), r.kernel(), r.threads(), r.loadSeconds(),
                        r.weightBytes() / 1e9, r.rssBefore() / 1e9, r.peakRss() / 1e9, r.peakOverWeights(),
                        r.addedPeakOverWeights(), r.rssAfter() / 1e9, r.arMsPerToken(), r.arMsMin());
    }

    /** The row as one JSON object. */
    public static ObjectNode json(Row r) {
        return new ObjectMapper().createObjectNode().put("model", r.model()).put("weights", r.weights())
                .put("kernel", r.kernel()).put("threads", r.threads()).put("parameters", r.parameters())
                .put("load_seconds", r.loadSeconds()).put("weight_bytes", r.weightBytes())
                .put("rss_before_bytes", r.rssBefore()).put("peak_rss_bytes", r.peakRss())
                .put("rss_after_bytes", r.rssAfter()).put("peak_over_weights", r.peakOverWeights())
                .put("added_peak_over_weights", r.addedPeakOverWeights()).put("prompt_tokens", r.promptTokens())
                .put("tokens", r.tokens()).put("ar_ms_per_token", r.arMsPerToken()).put("ar_ms_min", r.arMsMin())
                .put("peak_rss_after_decode_bytes", r.peakRssAfterDecode());
    }

    /** A {@code kB} field of {@code /proc/self/status}, in bytes. */
    static OptionalLong status(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    String[] parts = line.substring(field.length() + 1).trim().split("\\s+");
                    return OptionalLong.of(Long.parseLong(parts[0]) * 1024);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no value
        }
        return OptionalLong.empty();
    }
}
