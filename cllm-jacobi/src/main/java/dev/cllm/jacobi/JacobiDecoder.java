package dev.cllm.jacobi;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Decoder;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TokenSelector;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Lossless greedy Jacobi decoding with a KV cache: the output is exactly the greedy autoregressive output, produced
 * in fewer forward passes when the model predicts several tokens of a block right at once (as a CLLM is trained to).
 *
 * <p>The loop (Kou et al. 2024, algorithm 1, with the authors' KV-cache variant):
 * <ol>
 *   <li>Prefill the prompt; the argmax after it is the first output token, and it is certain.</li>
 *   <li>Start a block of n tokens: the certain token followed by n-1 guesses ({@link BlockInitializer}).</li>
 *   <li>Forward the block's unaccepted part in one pass (up to and including its first guessed stop token: the
 *   guesses after it matter only if it is wrong, and then they follow a wrong stop; whole blocks with
 *   {@link Builder#completeBlocks}). Guess i+1 is verified if it equals the prediction after
 *   token i; the verified prefix plus the prediction after it (at least one token) are accepted and committed. The
 *   other predictions, shifted by one, become the new guesses (the Jacobi update).</li>
 *   <li>When the whole block is accepted it is at its fixed point; the prediction after its last token starts the
 *   next block.</li>
 * </ol>
 * Generation stops at a stop token or stop string (the output is cut before it), after {@code maxNewTokens}, when
 * the session is full, or when a listener cancels. Tokens are selected as the request's {@link GenerationConfig}
 * asks, greedily or sampled with a seed; either way the output is exactly autoregressive decoding's (see
 * {@link TokenSelector}). Each pass accepts at least one token, so a block of n takes at most n passes and
 * a generation never takes more passes than autoregressive decoding. Block size 1 is autoregressive decoding: one
 * single-token pass per token, no guesses, no comparisons.
 *
 * <p>Immutable and thread-safe; the state of a generation lives in its {@link DecodingSession} (one per thread).
 */
public final class JacobiDecoder implements Decoder {
    /** The block size of the released CLLM checkpoints and trajectory data (the paper's n = 16). */
    public static final int DEFAULT_BLOCK_SIZE = 16;
    public static final int DEFAULT_MAX_NEW_TOKENS = 128;

    private final int blockSize;
    private final GenerationConfig defaults;
    private final BlockInitializer initializer;
    private final long seed;
    private final boolean completeBlocks;

    private JacobiDecoder(Builder b) {
        this.blockSize = b.blockSize;
        this.defaults = b.generation.build();
        this.initializer = b.initializer;
        this.seed = b.seed;
        this.completeBlocks = b.completeBlocks;
    }

    /** Defaults: n = {@value #DEFAULT_BLOCK_SIZE}, {@value #DEFAULT_MAX_NEW_TOKENS} new tokens, stop at EOS, guesses
     *  sampled from the context with seed 0. */
    public static Builder builder() {
        return new Builder();
    }

    /** The autoregressive baseline: block size 1, otherwise the defaults. */
    public static JacobiDecoder autoregressive(int maxNewTokens) {
        return builder().blockSize(1).maxNewTokens(maxNewTokens).build();
    }

    /** Jacobi decoding with block size n, otherwise the defaults. */
    public static JacobiDecoder jacobi(int blockSize, int maxNewTokens) {
        return builder().blockSize(blockSize).maxNewTokens(maxNewTokens).build();
    }

    public Builder toBuilder() {
        return builder().blockSize(blockSize).generation(defaults).initializer(initializer).seed(seed)
                .completeBlocks(completeBlocks);
    }

    public int blockSize() {
        return blockSize;
    }

    public int maxNewTokens() {
        return defaults.maxNewTokens();
    }

    @Override
    public GenerationConfig defaults() {
        return defaults;
    }

    @Override
    public String name() {
        return blockSize == 1 ? "ar" : "jacobi-" + blockSize;
    }

    @Override
    public Generation generate(DecodingSession session, TokenIds prompt, GenerationConfig config,
                               GenerationListener listener) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(listener, "listener");
        Start start = Start.check(session, prompt);
        Set<Integer> stops = config.stopTokens(session.model().config());
        Long sampleSeed = Decoder.resolveSeed(config);
        TokenSelector selector = config.selector(sampleSeed == null ? 0 : sampleSeed, stops);
        Output output = new Output(prompt, config.maxNewTokens(), stops, config.stopStrings(),
                session.model().tokenizer().orElse(null), listener);
        session.select(selector);
        return new Run(session, prompt, output, JacobiListener.of(listener), sampleSeed).decode(start.promptIds());
    }

    /** The state of one generation. */
    private final class Run {
        private final DecodingSession session;
        private final TokenIds prompt;
        private final Output output;
        private final JacobiListener listener;
        private final Long sampleSeed;
        private final StatsRecorder stats = new StatsRecorder(blockSize);

        Run(DecodingSession session, TokenIds prompt, Output output, JacobiListener listener, Long sampleSeed) {
            this.session = session;
            this.prompt = prompt;
            this.output = output;
            this.listener = listener;
            this.sampleSeed = sampleSeed;
        }

        Generation decode(int[] promptIds) {
            long start = System.nanoTime();
            int next = session.prefill(promptIds);
            long prefillNanos = System.nanoTime() - start;
            stats.onPrefill(prompt, next);
            listener.onPrefill(prompt, next);
            deliver(new int[]{next});
            SplittableRandom rng = new SplittableRandom(seed);
            for (int block = 0; !output.stopped(); block++) {
                int position = session.position();  // `next` sits here, certain but not yet in the cache
                int size = Math.min(blockSize, Math.min(output.remaining(), session.capacity() - 1 - position));
                if (size <= 0) {
                    output.stop(output.remaining() <= 0 ? StopReason.MAX_NEW_TOKENS : StopReason.CONTEXT_LIMIT);
                    break;
                }
                next = decodeBlock(block, position, size, next, rng);
            }
            output.finish(StopReason.MAX_NEW_TOKENS);
            long decodeNanos = System.nanoTime() - start - prefillNanos;
            return new Generation(prompt, output.ids(), output.text(), output.stopReason(),
                    stats.stats(prefillNanos, decodeNanos), sampleSeed, output.stopToken(), output.stopString());
        }

        /** Runs one block to its fixed point (or until the generation stops); returns the token after it. */
        private int decodeBlock(int index, int position, int size, int first, SplittableRandom rng) {
            int[] state = new int[size];
            state[0] = first;
            initializer.fill(state, 1, size - 1, output.sequence(), output.length(), rng);
            List<TokenIds> trajectory = new ArrayList<>();
            trajectory.add(TokenIds.of(state));
            int fixed = 0;      // block positions committed to the cache; state[fixed] is certain
            int passes = 0;
            int next;
            boolean converged;
            do {
                // the certain token and the guesses up to the first guessed stop (whole blocks when collecting)
                int span = completeBlocks ? size - fixed : 1 + output.throughFirstStop(state, fixed + 1, size);
                int[] guess = Arrays.copyOfRange(state, fixed, fixed + span);
                int[] predicted = session.forward(guess);        // predicted[t] follows guess[0..t]
                int accepted = 1;
                while (accepted < span && guess[accepted] == predicted[accepted - 1]) {
                    accepted++;
                }
                session.commit(accepted);
                TokenIds before = trajectory.get(trajectory.size() - 1);
                for (int j = 1; j < span; j++) {                  // the Jacobi update of the forwarded part
                    state[fixed + j] = predicted[j - 1];
                }
                int[] certain = new int[accepted];                 // verified guesses, then the new prediction
                System.arraycopy(guess, 1, certain, 0, accepted - 1);
                next = predicted[accepted - 1];
                certain[accepted - 1] = next;
                converged = fixed + accepted == size;
                TokenIds after = converged ? before : TokenIds.of(state);
                if (!after.equals(before)) {                       // equal: converged, or a guessed stop accepted
                    trajectory.add(after);
                }
                JacobiIteration iteration = new JacobiIteration(index, passes, position, before, after, fixed + 1,
                        accepted, span);
                stats.onIteration(iteration);
                listener.onIteration(iteration);
                fixed += accepted;
                passes++;
                deliver(certain);
            } while (!converged && (!output.stopped() || completeBlocks && output.stopReason() == StopReason.STOP_TOKEN));
            JacobiBlock block = new JacobiBlock(index, position, trajectory, converged, passes);
            stats.onBlock(block);
            listener.onBlock(block);
            return next;
        }

        /** Hands the tokens a pass made certain to the output (which stops at stop tokens and strings). */
        private void deliver(int[] tokens) {
            stats.delivered(output.accept(tokens));
        }
    }

    @Override
    public String toString() {
        return "JacobiDecoder[n=" + blockSize + ", defaults=" + defaults + ", seed=" + seed + ", completeBlocks="
                + completeBlocks + "]";
    }

    /** Configures a {@link JacobiDecoder}; {@link #build()} validates. */
    public static final class Builder {
        private int blockSize = DEFAULT_BLOCK_SIZE;
        private GenerationConfig.Builder generation = GenerationConfig.builder().maxNewTokens(DEFAULT_MAX_NEW_TOKENS);
        private BlockInitializer initializer = BlockInitializer.CONTEXT_SAMPLE;
        private long seed;
        private boolean completeBlocks;

        private Builder() {
        }

        /** Tokens guessed and refined per block, n >= 1 (1 = autoregressive decoding). */
        public Builder blockSize(int n) {
            this.blockSize = n;
            return this;
        }

        /**
         * The generation settings used when a call passes none (greedy, {@value #DEFAULT_MAX_NEW_TOKENS} new tokens,
         * the model's EOS by default); the setters below change single fields of it.
         */
        public Builder generation(GenerationConfig config) {
            this.generation = config.toBuilder();
            return this;
        }

        /** The most tokens to generate, >= 1. */
        public Builder maxNewTokens(int n) {
            this.generation.maxNewTokens(n);
            return this;
        }

        /** Whether the model's EOS ids end a generation (default true). */
        public Builder stopOnEos(boolean stop) {
            this.generation.ignoreEos(!stop);
            return this;
        }

        /** More ids that end a generation (in addition to EOS when {@link #stopOnEos}). */
        public Builder stopTokens(Set<Integer> ids) {
            this.generation.stopTokenIds(ids);
            return this;
        }

        /** Generate exactly {@code maxNewTokens} (context permitting): no EOS, no stop tokens, no stop strings. */
        public Builder noStop() {
            this.generation.noStop();
            return this;
        }

        public Builder initializer(BlockInitializer init) {
            this.initializer = Objects.requireNonNull(init, "initializer");
            return this;
        }

        /** Seed of the initial guesses' generator (affects speed only, never the output; not the sampling seed). */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /**
         * When a stop token ends the generation inside a block, keep iterating until that block reaches its fixed point
         * (nothing more is output; listeners see the iterations and the converged block). Trajectory collection needs
         * whole blocks; it costs at most n-1 extra passes. Default false.
         */
        public Builder completeBlocks(boolean complete) {
            this.completeBlocks = complete;
            return this;
        }

        /** @throws IllegalArgumentException naming the invalid setting */
        public JacobiDecoder build() {
            if (blockSize < 1) {
                throw new IllegalArgumentException("block size must be >= 1, got " + blockSize);
            }
            generation.build(); // validates
            return new JacobiDecoder(this);
        }
    }
}
