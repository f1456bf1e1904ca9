package dev.cllm.bench;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Decoder;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.LookaheadDecoder;
import dev.cllm.serve.GenerationRequest;
import dev.cllm.serve.GenerationService;
import dev.cllm.torch.TorchConsistencyModel;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A load harness for serving: {@code clients} threads each send {@code requestsPerClient} greedy requests one after
 * another (a closed loop), either through one {@link GenerationService} (their passes batched) or each calling
 * {@link Decoder#generate} on the shared model itself (today's per-thread decoding, the baseline). Every request's
 * output is checked against decoding its prompt alone.
 *
 * <pre>
 * java -cp ... dev.cllm.bench.ServingBenchmark MODEL CLIENTS DECODER [MAX_NEW_TOKENS [REQUESTS_PER_CLIENT]]
 * e.g. ServingBenchmark random-d896-l24-h14-kv2-f4864-v151936 1,2,4,8,16 jacobi 64 2
 * </pre>
 *
 * <p>MODEL is a name {@code ./cllm bench --models} takes; DECODER is {@code ar}, {@code jacobi} (block 16) or
 * {@code lookahead}. Prints one JSON object per line: a row per mode and client count. Not a JMH benchmark: one
 * measured run per row, after one warm-up request per prompt (the solo reference). Tokens count the new tokens.
 */
public final class ServingBenchmark {
    private ServingBenchmark() {
    }

    /** How clients reach the model. */
    public enum Mode {
        /** Through one {@link GenerationService}: passes batched across clients. */
        SERVICE,
        /** Each client thread calls {@link Decoder#generate} on the shared model. */
        PER_THREAD
    }

    /**
     * One measured configuration.
     *
     * @param identicalToAlone whether every request's ids equal decoding its prompt alone (all were checked)
     * @param meanBatchSize    session passes per batched step (service mode; 1 for per-thread)
     */
    public record Row(String model, String decoder, Mode mode, int clients, int requests, long newTokens,
                      double aggregateTokensPerS, double perRequestTokensPerS, double ttftP50Ms, double ttftP99Ms,
                      double latencyP50Ms, double latencyP99Ms, boolean identicalToAlone, double meanBatchSize) {

        /** One JSON object, with the snake_case names. */
        public String toJson() {
            return String.format(Locale.ROOT, "{\"model\":\"%s\",\"decoder\":\"%s\",\"mode\":\"%s\",\"clients\":%d,"
                            + "\"requests\":%d,\"new_tokens\":%d,\"aggregate_tokens_per_s\":%.1f,"
                            + "\"per_request_tokens_per_s\":%.1f,\"ttft_p50_ms\":%.1f,\"ttft_p99_ms\":%.1f,"
                            + "\"latency_p50_ms\":%.1f,\"latency_p99_ms\":%.1f,\"identical_to_alone\":%b,"
                            + "\"mean_batch_size\":%.2f}",
                    model, decoder, mode.name().toLowerCase(Locale.ROOT), clients, requests, newTokens,
                    aggregateTokensPerS, perRequestTokensPerS, ttftP50Ms, ttftP99Ms, latencyP50Ms, latencyP99Ms,
                    identicalToAlone, meanBatchSize);
        }
    }

    /** The decoder a name stands for ({@code ar}, {@code jacobi}, {@code lookahead}). */
    public static Decoder decoder(String name) {
        return switch (name) {
            case "ar" -> JacobiDecoder.autoregressive(JacobiDecoder.DEFAULT_MAX_NEW_TOKENS);
            case "jacobi" -> JacobiDecoder.builder().blockSize(16).build();
            case "lookahead" -> LookaheadDecoder.builder().build();
            default -> throw new IllegalArgumentException("unknown decoder '" + name + "' (ar, jacobi, lookahead)");
        };
    }

    /**
     * Measures {@code clients} client counts in both modes.
     *
     * @param alone the solo output of each prompt (the reference every request is checked against)
     */
    public static List<Row> run(String modelName, ConsistencyModel model, TokenIds[] prompts, Generation[] alone,
                                String decoderName, Decoder decoder, GenerationConfig config, List<Integer> clients,
                                int requestsPerClient) {
        return run(modelName, model, prompts, alone, decoderName, decoder, config, clients, requestsPerClient, null);
    }

    /**
     * As {@link #run(String, ConsistencyModel, TokenIds[], Generation[], String, Decoder, GenerationConfig, List,
     * int)}, with the service's {@code maxWait} ({@code null}: the service's default).
     */
    public static List<Row> run(String modelName, ConsistencyModel model, TokenIds[] prompts, Generation[] alone,
                                String decoderName, Decoder decoder, GenerationConfig config, List<Integer> clients,
                                int requestsPerClient, Duration maxWait) {
        List<Row> rows = new ArrayList<>();
        for (int c : clients) {
            for (Mode mode : Mode.values()) {
                rows.add(measure(modelName, model, prompts, alone, decoderName, decoder, config, c, requestsPerClient,
                        mode, maxWait));
            }
        }
        return rows;
    }

    /** Solo outputs of every prompt (also the warm-up). */
    public static Generation[] alone(ConsistencyModel model, TokenIds[] prompts, Decoder decoder,
                                     GenerationConfig config) {
        Generation[] out = new Generation[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            out[i] = decoder.generate(model, prompts[i], config, GenerationListener.NONE);
        }
        return out;
    }

    static Row measure(String modelName, ConsistencyModel model, TokenIds[] prompts, Generation[] alone,
                       String decoderName, Decoder decoder, GenerationConfig config, int clients,
                       int requestsPerClient, Mode mode, Duration maxWait) {
        int requests = clients * requestsPerClient;
        long[] ttft = new long[requests];
        long[] latency = new long[requests];
        int[] tokens = new int[requests];
        boolean[] identical = new boolean[requests];
        List<Throwable> errors = new ArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        GenerationService.Builder builder = GenerationService.builder(model).decoder(decoder)
                .maxActive(Math.max(1, clients));
        if (maxWait != null) {
            builder.maxWait(maxWait);
        }
        GenerationService service = mode == Mode.SERVICE ? builder.build() : null;
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int client = c;
            Thread t = new Thread(() -> {
                try {
                    go.await();
                    for (int r = 0; r < requestsPerClient; r++) {
                        int slot = client * requestsPerClient + r;
                        int p = slot % prompts.length;
                        AtomicLong first = new AtomicLong();
                        GenerationListener listener = accepted -> {
                            first.compareAndSet(0, System.nanoTime());
                            return true;
                        };
                        long start = System.nanoTime();
                        Generation g = service != null
                                ? service.submit(GenerationRequest.ids(prompts[p]).config(config).listener(listener)
                                .build()).join()
                                : decoder.generate(model, prompts[p], config, listener);
                        long end = System.nanoTime();
                        ttft[slot] = (first.get() == 0 ? end : first.get()) - start;
                        latency[slot] = end - start;
                        tokens[slot] = g.ids().size();
                        identical[slot] = g.ids().equals(alone[p].ids());
                    }
                } catch (Throwable e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                }
            }, "serving-bench-client-" + c);
            threads.add(t);
            t.start();
        }
        long wallStart = System.nanoTime();
        go.countDown();
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while measuring", e);
            }
        }
        long wall = System.nanoTime() - wallStart;
        double batch = 1;
        if (service != null) {
            batch = service.stats().meanBatchSize();
            service.close();
        }
        if (!errors.isEmpty()) {
            IllegalStateException e = new IllegalStateException(errors.size() + " client(s) failed in " + mode
                    + " mode with " + clients + " clients: " + errors.get(0), errors.get(0));
            errors.subList(1, errors.size()).forEach(e::addSuppressed);
            throw e;
        }
        long total = Arrays.stream(tokens).asLongStream().sum();
        double perRequest = 0;
        for (int i = 0; i < requests; i++) {
            perRequest += tokens[i] / (latency[i] / 1e9);
        }
        boolean allIdentical = true;
        for (boolean b : identical) {
            allIdentical &= b;
        }
        return new Row(modelName, decoderName, mode, clients, requests, total, total / (wall / 1e9),
                perRequest / requests, percentileMs(ttft, 50), percentileMs(ttft, 99), percentileMs(latency, 50),
                percentileMs(latency, 99), allIdentical, batch);
    }

    /** The nearest-rank percentile of {@code nanos}, in ms. */
    static double percentileMs(long[] nanos, double percentile) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(percentile / 100 * sorted.length);
        return sorted[Math.max(0, rank - 1)] / 1e6;
    }

    /**
     * Loads {@code modelName} (a name {@code ./cllm bench --models} takes) and measures each decoder at each client
     * count in both modes, on the model's benchmark prompts: greedy, {@code maxNewTokens} new tokens (models with
     * their own task prompts stop at EOS, as they are used), with the service's {@code maxWait} ({@code null}: the
     * service's default), handing each row to {@code onRow} as soon as it is measured.
     *
     * @throws IllegalArgumentException for an unknown model or decoder
     */
    public static void run(String modelName, List<String> decoders, List<Integer> clients, int maxNewTokens,
                           int requestsPerClient, Duration maxWait, Consumer<Row> onRow) {
        for (String d : decoders) {
            decoder(d);
        }
        BenchModels.missing(modelName).ifPresent(reason -> {
            throw new IllegalArgumentException(reason);
        });
        try (TorchConsistencyModel model = BenchModels.load(modelName, "auto")) {
            TokenIds[] prompts = Prompts.forModel(BenchModels.base(modelName), model);
            GenerationConfig.Builder config = model.generationConfig().toBuilder().greedy()
                    .maxNewTokens(maxNewTokens);
            if (!Prompts.ownTask(BenchModels.base(modelName))) {
                config.noStop();
            }
            GenerationConfig c = config.build();
            for (String name : decoders) {
                Decoder decoder = decoder(name);
                Generation[] alone = alone(model, prompts, decoder, c);
                for (int n : clients) {
                    run(modelName, model, prompts, alone, name, decoder, c, List.of(n), requestsPerClient, maxWait)
                            .forEach(onRow);
                }
            }
        }
    }

    public static void main(String[] args) {
        if (args.length < 3 || args.length > 5) {
            throw new IllegalArgumentException("usage: ServingBenchmark MODEL CLIENTS DECODER [MAX_NEW_TOKENS "
                    + "[REQUESTS_PER_CLIENT]]");
        }
        List<Integer> clients = Arrays.stream(args[1].split(",")).map(String::strip).map(Integer::parseInt).toList();
        int maxNewTokens = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        int perClient = args.length > 4 ? Integer.parseInt(args[4]) : 2;
        run(args[0], List.of(args[2].split(",")), clients, maxNewTokens, perClient, null,
                r -> System.out.println(r.toJson()));
    }
}
