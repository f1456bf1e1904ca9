package dev.cllm.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a benchmark run measures: which benchmarks, on which models, at which sizes and settings, and how long JMH
 * measures. Unset lists take the defaults of the full or the {@code quick} run; AR (block size 1) and n = 1 are always
 * added, since speedups and ratios are taken against them. Immutable; made by its {@link Builder}, which rejects bad
 * values with an {@link IllegalArgumentException} naming them. ({@code ./cllm bench} parses the command line into one.)
 */
public final class BenchOptions {
    /** The benchmarks a run can include. */
    public enum Part {
        /** {@link ForwardCostBenchmark}: ms per forward pass against n. */
        FORWARD("forward", ForwardCostBenchmark.class),
        /** {@link GenerationBenchmark}: AR against Jacobi and lookahead decoding. */
        GENERATION("generation", GenerationBenchmark.class),
        /** {@link CollectionBenchmark}: trajectory collection. */
        COLLECTION("collection", CollectionBenchmark.class),
        /** {@link PeerBenchmark}: our engine against llama.cpp on the same weights (not JMH; runs in this process). */
        PEERS("peers", PeerBenchmark.class),
        /**
         * {@link ServingBenchmark}: concurrent clients through one {@code GenerationService} against as many threads
         * each calling {@code generate} (not JMH; runs in this process).
         */
        SERVING("serving", ServingBenchmark.class);

        private final String label;
        private final Class<?> benchmark;

        Part(String label, Class<?> benchmark) {
            this.label = label;
            this.benchmark = benchmark;
        }

        /** The name on the command line and in the results. */
        public String label() {
            return label;
        }

        Class<?> benchmark() {
            return benchmark;
        }
    }

    /** Forward cost, full run: n. */
    public static final List<Integer> FULL_N = List.of(1, 2, 4, 8, 16, 32, 64);
    /** Forward cost, quick run: n. */
    public static final List<Integer> QUICK_N = List.of(1, 4, 16, 64);
    /** Generation, full run: block sizes (1 = AR). */
    public static final List<Integer> FULL_BLOCK_SIZES = List.of(1, 4, 8, 16, 32);
    /** Generation, quick run: block sizes (1 = AR). */
    public static final List<Integer> QUICK_BLOCK_SIZES = List.of(1, 8, 16);
    /** Generation: the decoders that run at each block size from 2 ({@code ar} runs at 1 in any case). */
    public static final List<String> DECODERS = List.of("jacobi", "lookahead");
    /** Collection: block size unless block sizes are given. */
    public static final int COLLECTION_BLOCK_SIZE = 16;
    /** Forward cost: default models. */
    public static final List<String> FORWARD_MODELS = List.of(BenchModels.STORIES_260K, BenchModels.RANDOM_50M);
    /** Generation: default models; the SQL models run only where they exist. */
    public static final List<String> GENERATION_MODELS = List.of(BenchModels.STORIES_260K, BenchModels.SQL_BASE,
            BenchModels.SQL_CLLM);
    /** Collection: default models. */
    public static final List<String> COLLECTION_MODELS = List.of(BenchModels.STORIES_260K);
    /** Peers: default models. */
    public static final List<String> PEER_MODELS = List.of(BenchModels.RANDOM_50M);
    /** Serving: default models (where they exist). */
    public static final List<String> SERVING_MODELS = List.of(BenchModels.SQL_CLLM);
    /** Serving: concurrent clients unless given. */
    public static final List<Integer> SERVING_CLIENTS = List.of(1, 2, 4, 8, 16);
    /** Serving: requests each client sends unless given. */
    public static final int SERVING_REQUESTS_PER_CLIENT = 2;
    /** Peers: measured rounds unless given. */
    public static final int PEER_ROUNDS = 3;
    /** Peers: greedy single-token steps timed per round and engine unless given. */
    public static final int PEER_AR_TOKENS = 32;
    /** Peers: the Jacobi block size unless block sizes are given. */
    public static final int PEER_BLOCK_SIZE = 8;

    private final Set<Part> parts;
    private final boolean quick;
    private final List<String> models;
    private final List<Integer> n;
    private final List<Integer> blockSizes;
    private final List<String> decoders;
    private final List<Integer> contexts;
    private final List<String> threads;
    private final List<String> dtypes;
    private final int maxNewTokens;
    private final String device;
    private final int rounds;
    private final int arTokens;
    private final Integer llamaThreads;
    private final List<Integer> clients;
    private final int requestsPerClient;
    private final Duration maxWait;

    private BenchOptions(Builder b) {
        this.parts = b.parts.isEmpty() ? EnumSet.of(Part.FORWARD, Part.GENERATION) : EnumSet.copyOf(b.parts);
        this.quick = b.quick;
        this.models = List.copyOf(b.models);
        this.n = List.copyOf(b.n);
        this.blockSizes = List.copyOf(b.blockSizes);
        this.decoders = b.decoders.isEmpty() ? DECODERS : List.copyOf(b.decoders);
        this.contexts = b.contexts.isEmpty() ? List.of(128) : List.copyOf(b.contexts);
        this.threads = b.threads.isEmpty() ? List.of("default") : List.copyOf(b.threads);
        this.dtypes = b.dtypes.isEmpty() ? List.of("auto") : List.copyOf(b.dtypes);
        this.maxNewTokens = b.maxNewTokens;
        this.device = b.device;
        this.rounds = b.rounds;
        this.arTokens = b.arTokens;
        this.llamaThreads = b.llamaThreads;
        this.clients = b.clients.isEmpty() ? SERVING_CLIENTS : List.copyOf(b.clients);
        this.requestsPerClient = b.requestsPerClient;
        this.maxWait = b.maxWait;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The benchmarks to run, in a fixed order. */
    public Set<Part> parts() {
        return parts;
    }

    public boolean quick() {
        return quick;
    }

    /** The models given (empty: each benchmark's defaults). */
    public List<String> models() {
        return models;
    }

    /** The models {@code part} runs on (before skipping the absent ones). */
    public List<String> modelsFor(Part part) {
        if (!models.isEmpty()) {
            return models;
        }
        return switch (part) {
            case FORWARD -> FORWARD_MODELS;
            case GENERATION -> GENERATION_MODELS;
            case COLLECTION -> COLLECTION_MODELS;
            case PEERS -> PEER_MODELS;
            case SERVING -> SERVING_MODELS;
        };
    }

    /** Forward cost: the numbers of new tokens per pass, ascending, with 1. */
    public List<Integer> forwardN() {
        return withOne(n.isEmpty() ? (quick ? QUICK_N : FULL_N) : n);
    }

    /** Generation: the block sizes, ascending, with 1 (AR). */
    public List<Integer> generationBlockSizes() {
        return withOne(blockSizes.isEmpty() ? (quick ? QUICK_BLOCK_SIZES : FULL_BLOCK_SIZES) : blockSizes);
    }

    /** Generation: the decoders run at block sizes from 2, {@code jacobi} and/or {@code lookahead}. */
    public List<String> decoders() {
        return decoders;
    }

    /** Collection: the block sizes given that are at least 2, else {@value #COLLECTION_BLOCK_SIZE}. */
    public List<Integer> collectionBlockSizes() {
        List<Integer> out = blockSizes.stream().filter(s -> s >= 2).sorted().distinct().toList();
        return out.isEmpty() ? List.of(COLLECTION_BLOCK_SIZE) : out;
    }

    /** Peers: the Jacobi block sizes, those given that are at least 2, else {@value #PEER_BLOCK_SIZE}. */
    public List<Integer> peerBlockSizes() {
        List<Integer> out = blockSizes.stream().filter(s -> s >= 2).sorted().distinct().toList();
        return out.isEmpty() ? List.of(PEER_BLOCK_SIZE) : out;
    }

    /** Peers: measured rounds after one warm-up round. */
    public int rounds() {
        return rounds;
    }

    /** Peers: greedy single-token steps timed per round and engine. */
    public int arTokens() {
        return arTokens;
    }

    /** Peers: llama.cpp's threads, or null for the larger of our libtorch and OpenBLAS counts. */
    public Integer llamaThreads() {
        return llamaThreads;
    }

    /** Peers: the settings of the run with our thread setting {@code threads}; the context is the first given. */
    public PeerBenchmark.Settings peerSettings(String threads) {
        return new PeerBenchmark.Settings(rounds, arTokens, contexts.get(0), maxNewTokens, peerBlockSizes(), threads,
                llamaThreads);
    }

    /** Serving: the concurrent client counts. */
    public List<Integer> clients() {
        return clients;
    }

    /** Serving: requests each client sends, one after another. */
    public int requestsPerClient() {
        return requestsPerClient;
    }

    /** Serving: the service's fixed wait for a step's missing passes, or null for its adaptive default. */
    public Duration maxWait() {
        return maxWait;
    }

    /** Serving: {@code ar} and then the decoders given. */
    public List<String> servingDecoders() {
        List<String> out = new ArrayList<>(List.of("ar"));
        out.addAll(decoders);
        return List.copyOf(new LinkedHashSet<>(out));
    }

    public List<Integer> contexts() {
        return contexts;
    }

    /** {@code torch/blas} thread settings, or {@code default}. */
    public List<String> threads() {
        return threads;
    }

    public List<String> dtypes() {
        return dtypes;
    }

    /** New tokens per prompt in generation and collection. */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /** The device the benchmark forks compute on ({@code cpu}, {@code cuda}, ...). */
    public String device() {
        return device;
    }

    /** The JMH settings in words. */
    public String describeJmh() {
        return quick ? "1 fork per configuration; 1 warm-up and 3 measured iterations of 1 s (quick)"
                : "1 fork per configuration; forward: 3 warm-up and 5 measured iterations of 1 s; generation and "
                        + "collection: 2 warm-up and 5 measured iterations of 2 s";
    }

    private static List<Integer> withOne(List<Integer> values) {
        TreeSet<Integer> out = new TreeSet<>(values);
        out.add(1);
        return List.copyOf(out);
    }

    @Override
    public String toString() {
        return "BenchOptions[parts=" + parts + ", quick=" + quick + ", models=" + models + ", n=" + n
                + ", blockSizes=" + blockSizes + ", decoders=" + decoders + ", contexts=" + contexts + ", threads=" + threads + ", dtypes="
                + dtypes + ", maxNewTokens=" + maxNewTokens + ", device=" + device + ", rounds=" + rounds
                + ", arTokens=" + arTokens + ", llamaThreads=" + llamaThreads + "]";
    }

    /** Configures {@link BenchOptions}; every list is optional. */
    public static final class Builder {
        private final Set<Part> parts = new LinkedHashSet<>();
        private boolean quick;
        private List<String> models = List.of();
        private List<Integer> n = List.of();
        private List<Integer> blockSizes = List.of();
        private List<String> decoders = List.of();
        private List<Integer> contexts = List.of();
        private List<String> threads = List.of();
        private List<String> dtypes = List.of();
        private int maxNewTokens = 128;
        private String device = System.getProperty("cllm.bench.device", "cpu");
        private int rounds = PEER_ROUNDS;
        private int arTokens = PEER_AR_TOKENS;
        private Integer llamaThreads;
        private List<Integer> clients = List.of();
        private int requestsPerClient = SERVING_REQUESTS_PER_CLIENT;
        private Duration maxWait;

        private Builder() {
        }

        /** Adds a benchmark (none added: forward and generation). */
        public Builder part(Part part) {
            parts.add(part);
            return this;
        }

        /** Adds benchmarks (none added: forward and generation). */
        public Builder parts(Collection<Part> values) {
            values.forEach(this::part);
            return this;
        }

        /** 1 warm-up and 3 measured iterations of 1 s, and fewer sizes. */
        public Builder quick(boolean value) {
            this.quick = value;
            return this;
        }

        /** Models for every selected benchmark (names as in {@code BenchModels}). */
        public Builder models(List<String> names) {
            this.models = distinct(names);
            return this;
        }

        /** Forward cost: numbers of new tokens per pass. */
        public Builder n(List<Integer> values) {
            this.n = positive("n", values, 1);
            return this;
        }

        /** Generation and collection: block sizes (1 = AR). */
        public Builder blockSizes(List<Integer> values) {
            this.blockSizes = positive("block size", values, 1);
            return this;
        }

        /** Generation: decoders at block sizes from 2, {@code jacobi} and/or {@code lookahead} (default both). */
        public Builder decoders(List<String> values) {
            for (String v : values) {
                if (!DECODERS.contains(v)) {
                    throw new IllegalArgumentException("decoder must be jacobi or lookahead, got '" + v + "'");
                }
            }
            this.decoders = distinct(values);
            return this;
        }

        /** Forward cost: cached tokens before the pass. */
        public Builder contexts(List<Integer> values) {
            this.contexts = positive("context", values, 1);
            return this;
        }

        /** Thread settings {@code torch/blas} or {@code default}. */
        public Builder threads(List<String> values) {
            for (String v : values) {
                if (!v.equals("default") && !v.matches("[1-9][0-9]*/[1-9][0-9]*")) {
                    throw new IllegalArgumentException("threads must be TORCH/BLAS (e.g. 1/2) or default, got '"
                            + v + "'");
                }
            }
            this.threads = distinct(values);
            return this;
        }

        /** Compute dtypes: auto, f32, bf16, f16. */
        public Builder dtypes(List<String> values) {
            for (String v : values) {
                if (!List.of("auto", "f32", "bf16", "f16").contains(v)) {
                    throw new IllegalArgumentException("dtype must be auto, f32, bf16 or f16, got '" + v + "'");
                }
            }
            this.dtypes = distinct(values);
            return this;
        }

        public Builder maxNewTokens(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("max new tokens must be >= 1, got " + value);
            }
            this.maxNewTokens = value;
            return this;
        }

        /** Peers: measured rounds after one warm-up round (default {@value #PEER_ROUNDS}). */
        public Builder rounds(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("--rounds must be >= 1, got " + value);
            }
            this.rounds = value;
            return this;
        }

        /** Peers: greedy single-token steps timed per round and engine (default {@value #PEER_AR_TOKENS}). */
        public Builder arTokens(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("--ar-tokens must be >= 1, got " + value);
            }
            this.arTokens = value;
            return this;
        }

        /** Peers: llama.cpp's threads; null (the default) for the larger of our libtorch and OpenBLAS counts. */
        public Builder llamaThreads(Integer value) {
            if (value != null && value < 1) {
                throw new IllegalArgumentException("--llama-threads must be >= 1, got " + value);
            }
            this.llamaThreads = value;
            return this;
        }

        /** Serving: concurrent client counts, each >= 1 (default 1, 2, 4, 8, 16). */
        public Builder clients(List<Integer> values) {
            this.clients = positive("clients", values, 1);
            return this;
        }

        /** Serving: requests each client sends, one after another (default {@value #SERVING_REQUESTS_PER_CLIENT}). */
        public Builder requestsPerClient(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("--requests-per-client must be >= 1, got " + value);
            }
            this.requestsPerClient = value;
            return this;
        }

        /** Serving: a fixed wait for a step's missing passes (default: the service's adaptive wait). */
        public Builder maxWait(Duration value) {
            if (value != null && value.isNegative()) {
                throw new IllegalArgumentException("--max-wait-ms must be >= 0, got " + value.toMillis());
            }
            this.maxWait = value;
            return this;
        }

        public Builder device(String value) {
            this.device = value;
            return this;
        }

        public BenchOptions build() {
            return new BenchOptions(this);
        }

        private static <T> List<T> distinct(List<T> values) {
            return List.copyOf(new LinkedHashSet<>(values));
        }

        private static List<Integer> positive(String what, List<Integer> values, int min) {
            List<Integer> out = new ArrayList<>();
            for (Integer v : values) {
                if (v == null || v < min) {
                    throw new IllegalArgumentException(what + " must be >= " + min + ", got " + v);
                }
                out.add(v);
            }
            return distinct(out);
        }
    }
}
