package dev.cllm.api;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What one generation request asks for: length, stopping, and how tokens are selected. Names and defaults follow
 * Hugging Face's {@code GenerationConfig} ({@code generation_config.json}); a checkpoint's own file is read by
 * {@link ConsistencyModel#generationConfig()}, and any field can be overridden with {@link #toBuilder()}.
 *
 * <p>Greedy decoding ({@code do_sample = false}, the default) is exactly what every decoder of this SDK reproduces
 * losslessly; sampling is lossless too: for the same {@code seed}, Jacobi decoding and candidate verification select
 * the same tokens as autoregressive decoding (see {@link TokenSelector}).
 *
 * @param maxNewTokens      {@code max_new_tokens}: the most tokens to generate, >= 1 (default 128)
 * @param minNewTokens      {@code min_new_tokens}: stop tokens are not selectable before this many tokens (default 0)
 * @param doSample          {@code do_sample}: sample (true) or select greedily (false, the default)
 * @param temperature       {@code temperature} > 0 (default 1.0; used when sampling)
 * @param topK              {@code top_k} >= 0, 0 = off (default 50, as Hugging Face; used when sampling)
 * @param topP              {@code top_p} in (0, 1] (default 1.0 = off; used when sampling)
 * @param minP              {@code min_p} in [0, 1] (default 0 = off; used when sampling)
 * @param repetitionPenalty {@code repetition_penalty} > 0 (default 1.0 = off; applies when greedy too)
 * @param presencePenalty   {@code presence_penalty} (OpenAI's; default 0 = off; applies when greedy too)
 * @param frequencyPenalty  {@code frequency_penalty} (OpenAI's; default 0 = off; applies when greedy too)
 * @param seed              {@code seed} of the sampling, or null for a fresh random seed per request (reported in
 *                          {@link Generation#seed()})
 * @param stopStrings       {@code stop_strings}: the output ends before the first occurrence of any of them (the
 *                          string itself is not returned)
 * @param eosTokenIds       {@code eos_token_id}: the ids that end a generation, or null for the model's own
 *                          ({@link ModelConfig#eosTokenIds()})
 * @param ignoreEos         never stop at an EOS id (the other stop conditions still apply)
 * @param stopTokenIds      more ids that end a generation, besides the EOS ids (end-of-turn tokens of a chat
 *                          template, say)
 */
public record GenerationConfig(int maxNewTokens, int minNewTokens, boolean doSample, double temperature, int topK,
                               double topP, double minP, double repetitionPenalty, double presencePenalty,
                               double frequencyPenalty, Long seed, List<String> stopStrings, Set<Integer> eosTokenIds,
                               boolean ignoreEos, Set<Integer> stopTokenIds) {
    /** Hugging Face's default {@code top_k}. */
    public static final int HF_DEFAULT_TOP_K = 50;
    /** This SDK's default {@code max_new_tokens} (Hugging Face's {@code max_length} of 20 is too short to be useful). */
    public static final int DEFAULT_MAX_NEW_TOKENS = 128;

    public GenerationConfig {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max_new_tokens must be >= 1, got " + maxNewTokens);
        }
        if (minNewTokens < 0) {
            throw new IllegalArgumentException("min_new_tokens must be >= 0, got " + minNewTokens);
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be > 0 and finite, got " + temperature
                    + " (for greedy decoding set do_sample to false)");
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition_penalty must be > 0 and finite, got " + repetitionPenalty);
        }
        if (!Double.isFinite(presencePenalty)) {
            throw new IllegalArgumentException("presence_penalty must be finite, got " + presencePenalty);
        }
        if (!Double.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException("frequency_penalty must be finite, got " + frequencyPenalty);
        }
        stopStrings = List.copyOf(Objects.requireNonNull(stopStrings, "stop_strings"));
        for (String s : stopStrings) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop_strings: a stop string must not be empty");
            }
        }
        if (eosTokenIds != null) {
            eosTokenIds = Set.copyOf(eosTokenIds);
            checkIds(eosTokenIds, "eos_token_id");
        }
        stopTokenIds = Set.copyOf(Objects.requireNonNull(stopTokenIds, "stopTokenIds"));
        checkIds(stopTokenIds, "stop token id");
    }

    private static void checkIds(Set<Integer> ids, String what) {
        for (int id : ids) {
            if (id < 0) {
                throw new IllegalArgumentException(what + " must be >= 0, got " + id);
            }
        }
    }

    /** Hugging Face's defaults (greedy), {@value #DEFAULT_MAX_NEW_TOKENS} new tokens, the model's EOS ids. */
    public static GenerationConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxNewTokens = maxNewTokens;
        b.minNewTokens = minNewTokens;
        b.doSample = doSample;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.presencePenalty = presencePenalty;
        b.frequencyPenalty = frequencyPenalty;
        b.seed = seed;
        b.stopStrings = new ArrayList<>(stopStrings);
        b.eosTokenIds = eosTokenIds;
        b.ignoreEos = ignoreEos;
        b.stopTokenIds = new LinkedHashSet<>(stopTokenIds);
        return b;
    }

    /** The ids that end a generation on {@code model}: EOS (unless ignored) and the extra stop ids. */
    public Set<Integer> stopTokens(ModelConfig model) {
        Set<Integer> out = new LinkedHashSet<>(stopTokenIds);
        if (!ignoreEos) {
            out.addAll(eosTokenIds != null ? eosTokenIds : model.eosTokenIds());
        }
        return out;
    }

    /**
     * The token selector for one request with the given (resolved) seed: greedy unless sampling; the minimum length
     * suppresses {@code stopIds}.
     */
    public TokenSelector selector(long resolvedSeed, Set<Integer> stopIds) {
        return new TokenSelector(doSample, temperature, topK, topP, minP, repetitionPenalty, presencePenalty,
                frequencyPenalty, resolvedSeed, minNewTokens, minNewTokens > 0 ? stopIds : Set.of());
    }

    /** Fills a {@link GenerationConfig}; {@link #build()} validates and names the bad field. */
    public static final class Builder {
        private int maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
        private int minNewTokens;
        private boolean doSample;
        private double temperature = 1.0;
        private int topK = HF_DEFAULT_TOP_K;
        private double topP = 1.0;
        private double minP;
        private double repetitionPenalty = 1.0;
        private double presencePenalty;
        private double frequencyPenalty;
        private Long seed;
        private List<String> stopStrings = new ArrayList<>();
        private Set<Integer> eosTokenIds;
        private boolean ignoreEos;
        private Set<Integer> stopTokenIds = new LinkedHashSet<>();

        private Builder() {
        }

        public Builder maxNewTokens(int n) {
            this.maxNewTokens = n;
            return this;
        }

        public Builder minNewTokens(int n) {
            this.minNewTokens = n;
            return this;
        }

        public Builder doSample(boolean sample) {
            this.doSample = sample;
            return this;
        }

        /** Sampling at this temperature: sets {@code do_sample} too. */
        public Builder sampling(double t) {
            this.doSample = true;
            this.temperature = t;
            return this;
        }

        /** Greedy selection ({@code do_sample = false}). */
        public Builder greedy() {
            this.doSample = false;
            return this;
        }

        public Builder temperature(double t) {
            this.temperature = t;
            return this;
        }

        public Builder topK(int k) {
            this.topK = k;
            return this;
        }

        public Builder topP(double p) {
            this.topP = p;
            return this;
        }

        public Builder minP(double p) {
            this.minP = p;
            return this;
        }

        public Builder repetitionPenalty(double r) {
            this.repetitionPenalty = r;
            return this;
        }

        public Builder presencePenalty(double a) {
            this.presencePenalty = a;
            return this;
        }

        public Builder frequencyPenalty(double f) {
            this.frequencyPenalty = f;
            return this;
        }

        /** The sampling seed; null draws a fresh one per request. */
        public Builder seed(Long s) {
            this.seed = s;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        public Builder stopStrings(List<String> strings) {
            this.stopStrings = new ArrayList<>(strings);
            return this;
        }

        /** Adds stop strings. */
        public Builder stop(String... strings) {
            this.stopStrings.addAll(List.of(strings));
            return this;
        }

        /** The EOS ids; null means the model's. */
        public Builder eosTokenIds(Set<Integer> ids) {
            this.eosTokenIds = ids == null ? null : new LinkedHashSet<>(ids);
            return this;
        }

        public Builder ignoreEos(boolean ignore) {
            this.ignoreEos = ignore;
            return this;
        }

        public Builder stopTokenIds(Set<Integer> ids) {
            this.stopTokenIds = new LinkedHashSet<>(ids);
            return this;
        }

        /** Never stop before {@code maxNewTokens}: no EOS, no stop ids, no stop strings. */
        public Builder noStop() {
            this.ignoreEos = true;
            this.stopTokenIds = new LinkedHashSet<>();
            this.stopStrings = new ArrayList<>();
            return this;
        }

        /** @throws IllegalArgumentException naming the invalid field by its Hugging Face name */
        public GenerationConfig build() {
            return new GenerationConfig(maxNewTokens, minNewTokens, doSample, temperature, topK, topP, minP,
                    repetitionPenalty, presencePenalty, frequencyPenalty, seed, stopStrings, eosTokenIds, ignoreEos,
                    stopTokenIds);
        }
    }
}
