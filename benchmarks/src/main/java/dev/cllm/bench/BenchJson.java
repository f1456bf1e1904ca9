package dev.cllm.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.UncheckedIOException;
import java.util.Locale;

/**
 * Benchmark results as JSON: one object
 * <pre>{@code
 * {"forward_cost": [{"model", "n", "ms", "ratio_to_1", "ms_error", "ms_per_token", "context", "threads", "dtype"}],
 *  "generation":   [{"model", "decoder", "block_size", "tokens_per_s", "tokens_per_pass", "speedup",
 *                    "tokens_per_s_error", "max_new_tokens", "prompts", "threads", "dtype"}],
 *  "collection":   [{"model", "block_size", "blocks_per_s", "tokens_per_s", "tokens_per_pass", ...}],
 *  "peers":        [{"engine", "weights", "model", "ar_ms_per_token", "t1_ms", "t8_ms", "t16_ms",
 *                    "ar_ratio_to_q8_0", "t1_ratio_to_q8_0", ..., "ar_tokens_per_s",
 *                    "jacobi": [{"block_size", "tokens_per_s", "tokens_per_pass", "speedup_over_ar",
 *                                "ratio_to_llama_q8_0_ar"}],
 *                    "threads", "our_threads", "llama_threads", "rounds", "context", "ar_tokens", "jacobi_tokens",
 *                    "load_before", "load_after"}],
 *  "serving":      [{"model", "decoder", "mode", "clients", "requests", "new_tokens", "aggregate_tokens_per_s",
 *                    "per_request_tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "latency_p50_ms", "latency_p99_ms",
 *                    "identical_to_alone", "mean_batch_size"}],
 *  "skipped":      [{"model", "benchmarks", "reason"}],
 *  "jmh": "...", "machine": {...}, "results_dir": "..."}
 * }</pre>
 * A row whose benchmark failed has null numbers and an {@code "error"} (a failed peer run: one row without engine).
 * {@code collection}, {@code peers} and {@code serving} appear only when they ran, {@code machine} and {@code results_dir} only when
 * known. Peer ratios are to llama.cpp Q8_0 (medians of per-round ratios); {@code jacobi} is empty for llama.cpp.
 */
public final class BenchJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BenchJson() {
    }

    /** The results object; {@code machine} and {@code resultsDir} may be null. */
    public static ObjectNode results(BenchResults results, MachineInfo machine, String resultsDir) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode forward = o.putArray("forward_cost");
        for (BenchResults.ForwardRow r : results.forwardCost()) {
            ObjectNode row = forward.addObject().put("model", r.model()).put("n", r.n());
            number(row, "ms", r.ms(), 4);
            number(row, "ratio_to_1", r.ratioTo1(), 3);
            number(row, "ms_error", r.msError(), 4);
            number(row, "ms_per_token", r.msPerToken(), 4);
            row.put("context", r.context()).put("threads", r.threads()).put("dtype", r.dtype());
            error(row, r.error());
        }
        ArrayNode generation = o.putArray("generation");
        for (BenchResults.GenerationRow r : results.generation()) {
            ObjectNode row = generation.addObject().put("model", r.model()).put("decoder", r.decoder())
                    .put("block_size", r.blockSize());
            number(row, "tokens_per_s", r.tokensPerS(), 1);
            number(row, "tokens_per_pass", r.tokensPerPass(), 3);
            number(row, "speedup", r.speedup(), 3);
            number(row, "tokens_per_s_error", r.tokensPerSError(), 1);
            row.put("max_new_tokens", r.maxNewTokens()).put("prompts", r.prompts()).put("threads", r.threads())
                    .put("dtype", r.dtype());
            error(row, r.error());
        }
        if (!results.collection().isEmpty()) {
            ArrayNode collection = o.putArray("collection");
            for (BenchResults.CollectionRow r : results.collection()) {
                ObjectNode row = collection.addObject().put("model", r.model()).put("block_size", r.blockSize());
                number(row, "blocks_per_s", r.blocksPerS(), 2);
                number(row, "tokens_per_s", r.tokensPerS(), 1);
                number(row, "tokens_per_pass", r.tokensPerPass(), 3);
                row.put("max_new_tokens", r.maxNewTokens()).put("prompts", r.prompts())
                        .put("threads", r.threads()).put("dtype", r.dtype());
                error(row, r.error());
            }
        }
        if (!results.peers().isEmpty()) {
            ArrayNode peers = o.putArray("peers");
            for (BenchResults.PeerRun run : results.peers()) {
                if (run.error() != null) {
                    ObjectNode row = peers.addObject().put("model", run.model());
                    peerRun(row, run);
                    error(row, run.error());
                }
                Double q8Ar = peerQ8Ar(run);
                for (BenchResults.PeerRow r : run.rows()) {
                    ObjectNode row = peers.addObject().put("engine", r.engine()).put("weights", r.weights())
                            .put("model", run.model());
                    number(row, "ar_ms_per_token", r.arMsPerToken(), 4);
                    r.passMs().forEach((n, ms) -> number(row, "t" + n + "_ms", ms, 4));
                    number(row, "ar_ratio_to_q8_0", r.arRatio(), 3);
                    r.passRatio().forEach((n, ratio) -> number(row, "t" + n + "_ratio_to_q8_0", ratio, 3));
                    number(row, "ar_tokens_per_s", r.arTokensPerS(), 1);
                    ArrayNode jacobi = row.putArray("jacobi");
                    for (BenchResults.JacobiRate j : r.jacobi()) {
                        ObjectNode jr = jacobi.addObject().put("block_size", j.blockSize());
                        number(jr, "tokens_per_s", j.tokensPerS(), 1);
                        number(jr, "tokens_per_pass", j.tokensPerPass(), 3);
                        number(jr, "speedup_over_ar", r.arTokensPerS() == null ? null
                                : j.tokensPerS() / r.arTokensPerS(), 3);
                        number(jr, "ratio_to_llama_q8_0_ar", q8Ar == null ? null : j.tokensPerS() / q8Ar, 3);
                    }
                    peerRun(row, run);
                }
            }
        }
        if (!results.serving().isEmpty()) {
            ArrayNode serving = o.putArray("serving");
            for (ServingBenchmark.Row r : results.serving()) {
                ObjectNode row = serving.addObject().put("model", r.model()).put("decoder", r.decoder())
                        .put("mode", r.mode().name().toLowerCase(Locale.ROOT)).put("clients", r.clients())
                        .put("requests", r.requests()).put("new_tokens", r.newTokens());
                number(row, "aggregate_tokens_per_s", r.aggregateTokensPerS(), 1);
                number(row, "per_request_tokens_per_s", r.perRequestTokensPerS(), 1);
                number(row, "ttft_p50_ms", r.ttftP50Ms(), 1);
                number(row, "ttft_p99_ms", r.ttftP99Ms(), 1);
                number(row, "latency_p50_ms", r.latencyP50Ms(), 1);
                number(row, "latency_p99_ms", r.latencyP99Ms(), 1);
                row.put("identical_to_alone", r.identicalToAlone());
                number(row, "mean_batch_size", r.meanBatchSize(), 2);
            }
        }
        ArrayNode skipped = o.putArray("skipped");
        for (BenchResults.Skipped s : results.skipped()) {
            ObjectNode row = skipped.addObject().put("model", s.model());
            s.benchmarks().forEach(row.putArray("benchmarks")::add);
            row.put("reason", s.reason());
        }
        o.put("jmh", results.jmh());
        if (machine != null) {
            o.set("machine", machine(machine));
        }
        if (resultsDir != null) {
            o.put("results_dir", resultsDir);
        }
        return o;
    }

    /** The machine object (also written alone as {@code machine.json}). */
    public static ObjectNode machine(MachineInfo m) {
        ObjectNode o = JSON.createObjectNode();
        o.put("cpu_model", m.cpuModel());
        if (m.cpuinfoProcessors() != null) {
            o.put("cpuinfo_processors", m.cpuinfoProcessors());
        }
        o.put("available_processors", m.availableProcessors()).put("os", m.os()).put("jvm", m.jvm());
        ArrayNode flags = o.putArray("jvm_flags");
        m.jvmFlags().forEach(flags::add);
        o.put("max_heap_bytes", m.maxHeapBytes()).put("torch_threads", m.torchThreads())
                .put("blas_threads", m.blasThreads()).put("threads_source", m.threadSource());
        if (m.torchBuild() != null) {
            o.put("torch_build", m.torchBuild());
        }
        o.put("device", m.device()).put("command", m.command()).put("date", m.date());
        return o;
    }

    /** One line of JSON. */
    public static String compact(ObjectNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Indented JSON, for files. */
    public static String pretty(ObjectNode node) {
        try {
            return JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void number(ObjectNode row, String name, Double value, int decimals) {
        if (value == null || value.isNaN() || value.isInfinite()) {
            row.putNull(name);
        } else {
            double scale = Math.pow(10, decimals);
            row.put(name, Math.round(value * scale) / scale);
        }
    }

    /** llama.cpp Q8_0's AR tokens per second in {@code run}, or null. */
    static Double peerQ8Ar(BenchResults.PeerRun run) {
        return run.rows().stream().filter(BenchResults.PeerRow::isQ8Baseline).findFirst()
                .map(BenchResults.PeerRow::arTokensPerS).orElse(null);
    }

    private static void peerRun(ObjectNode row, BenchResults.PeerRun run) {
        row.put("threads", run.threads()).put("our_threads", run.ourThreads()).put("llama_threads", run.llamaThreads())
                .put("rounds", run.rounds()).put("context", run.context()).put("ar_tokens", run.arTokens())
                .put("jacobi_tokens", run.jacobiTokens()).put("load_before", run.loadBefore())
                .put("load_after", run.loadAfter());
    }

    private static void error(ObjectNode row, String error) {
        if (error != null) {
            row.put("error", error);
        }
    }
}
