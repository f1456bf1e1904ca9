package dev.cllm.jacobi;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrajectoryCollector;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Collects Jacobi trajectories with the KV-cache Jacobi loop: a {@link JacobiListener} records every block that
 * reaches its fixed point with the full block size.
 *
 * <p>The states are those of full-block Jacobi decoding without a cache (state i+1 is the Jacobi update of the whole
 * state i); the cache only spares recomputing the accepted prefix. A block in which EOS appears is still completed to
 * its fixed point, and decoding stops after it. Blocks cut short by the context limit are not recorded. Immutable and
 * thread-safe.
 */
public final class JacobiTrajectoryCollector implements TrajectoryCollector {
    /** The authors' released data: 256 new tokens per prompt (GSM8K, Spider) at n = 16. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 256;

    private final JacobiDecoder decoder;
    private final int blockSize;
    private final long seed;

    private JacobiTrajectoryCollector(Builder b) {
        this.blockSize = b.blockSize;
        this.seed = b.seed;
        // one certain token from the prefill, then whole blocks of n: 1 + k·n tokens make every block full-size
        int blocks = Math.max(1, (b.maxNewTokens - 1 + blockSize - 1) / blockSize);
        JacobiDecoder.Builder d = JacobiDecoder.builder().blockSize(blockSize).maxNewTokens(1 + blocks * blockSize)
                .initializer(b.initializer).seed(b.seed).completeBlocks(true);
        if (!b.stopOnEos) {
            d.noStop();
        }
        this.decoder = d.build();
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public int maxNewTokens() {
        return decoder.maxNewTokens();
    }

    /** The decoder the collector runs (block size, token budget rounded up to whole blocks, initializer, seed). */
    public JacobiDecoder decoder() {
        return decoder;
    }

    @Override
    public Result collect(DecodingSession session, Prompt prompt) {
        int promptLength = prompt.ids().size();
        if (!fits(promptLength, session.capacity())) {
            throw new IllegalArgumentException("prompt " + prompt.index() + " of " + promptLength + " tokens leaves "
                    + "no room for a block of " + blockSize + " in a context of " + session.capacity() + " positions");
        }
        Recorder recorder = new Recorder(prompt);
        // a different (still reproducible) stream of initial guesses for every prompt
        JacobiDecoder forPrompt = decoder.toBuilder().seed(seed + prompt.index() * 0x9E3779B97F4A7C15L).build();
        Generation generation = forPrompt.generate(session, prompt.ids(), recorder);
        return new Result(prompt, recorder.trajectories, generation);
    }

    /** Records converged full-size blocks with their context. */
    private final class Recorder implements JacobiListener {
        private final Prompt prompt;
        private final List<Trajectory> trajectories = new ArrayList<>();
        private int[] context;
        private int contextLength;

        Recorder(Prompt prompt) {
            this.prompt = prompt;
            this.context = prompt.ids().toArray();
            this.contextLength = context.length;
        }

        @Override
        public void onBlock(JacobiBlock block) {
            if (!block.converged() || block.size() != blockSize) {
                return;
            }
            if (block.position() != contextLength) {
                throw new IllegalStateException("block " + block.index() + " starts at " + block.position()
                        + " but the recorded context has " + contextLength + " tokens");
            }
            trajectories.add(new Trajectory(prompt.index(), block.index(), TokenIds.copyOf(context, 0, contextLength),
                    block.trajectory(), prompt.answer()));
            TokenIds fixedPoint = block.lastState();
            if (contextLength + blockSize > context.length) {
                context = Arrays.copyOf(context, Math.max(context.length * 2, contextLength + blockSize));
            }
            fixedPoint.copyTo(context, contextLength);
            contextLength += blockSize;
        }
    }

    @Override
    public String toString() {
        return "JacobiTrajectoryCollector[" + decoder + "]";
    }

    /** Configures a {@link JacobiTrajectoryCollector}. */
    public static final class Builder {
        private int blockSize = JacobiDecoder.DEFAULT_BLOCK_SIZE;
        private int maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
        private boolean stopOnEos = true;
        private BlockInitializer initializer = BlockInitializer.CONTEXT_SAMPLE;
        private long seed;

        private Builder() {
        }

        /** n, the block size of every trajectory (the paper's released data: 16). */
        public Builder blockSize(int n) {
            this.blockSize = n;
            return this;
        }

        /** New tokens per prompt, rounded up so that every block is whole. */
        public Builder maxNewTokens(int n) {
            this.maxNewTokens = n;
            return this;
        }

        /** Whether EOS ends a prompt's collection (after completing its block). Default true. */
        public Builder stopOnEos(boolean stop) {
            this.stopOnEos = stop;
            return this;
        }

        public Builder initializer(BlockInitializer init) {
            this.initializer = Objects.requireNonNull(init, "initializer");
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        public JacobiTrajectoryCollector build() {
            if (blockSize < 2) {
                throw new IllegalArgumentException("trajectories need a block size of at least 2, got " + blockSize);
            }
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
            }
            return new JacobiTrajectoryCollector(this);
        }
    }
}
