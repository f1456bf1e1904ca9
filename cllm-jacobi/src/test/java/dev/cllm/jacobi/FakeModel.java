package dev.cllm.jacobi;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.api.ModelConfig;
import dev.cllm.api.Tokenizer;

import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A deterministic stand-in for a language model: the greedy next token is a hash of the last {@code order} tokens.
 * Its sessions follow the {@link DecodingSession} contract exactly (a forward writes the block after the committed
 * tokens; a commit keeps a prefix), so decoders can be tested in microseconds.
 */
final class FakeModel implements ConsistencyModel {
    private final ModelConfig config;
    private final int order;
    private final long salt;
    private final int attractor;
    final AtomicLong forwardCalls = new AtomicLong();

    /**
     * @param attractor if >= 0, a token that always predicts itself (so repetitive stretches appear, which Jacobi
     *                  decoding fast-forwards)
     */
    FakeModel(int vocabSize, int contextLength, Set<Integer> eos, int order, long salt, int attractor) {
        this.config = new ModelConfig("Fake", vocabSize, contextLength, -1, eos, 0);
        this.order = order;
        this.salt = salt;
        this.attractor = attractor;
    }

    /** The greedy next token after {@code seq[0..length)}. */
    int next(int[] seq, int length) {
        if (attractor >= 0 && seq[length - 1] == attractor) {
            return attractor;
        }
        long h = salt;
        for (int i = Math.max(0, length - order); i < length; i++) {
            h = (h ^ seq[i]) * 0x9E3779B97F4A7C15L;
            h ^= h >>> 29;
        }
        return (int) Math.floorMod(h, (long) config.vocabSize());
    }

    /** Plain greedy decoding straight from {@link #next}: the reference every decoder must reproduce. */
    int[] greedy(int[] prompt, int maxNewTokens, Set<Integer> stops) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int length = prompt.length;
        int limit = Math.min(prompt.length + maxNewTokens, config.contextLength());
        while (length < limit) {
            int t = next(seq, length);
            if (stops.contains(t)) {
                break;
            }
            seq[length++] = t;
        }
        return Arrays.copyOfRange(seq, prompt.length, length);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public Optional<Tokenizer> tokenizer() {
        return Optional.empty();
    }

    @Override
    public DecodingSession newSession(int capacity) {
        if (capacity < 2 || capacity > config.contextLength()) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        return new Session(capacity);
    }

    @Override
    public void close() {
    }

    private final class Session implements DecodingSession {
        private final int[] tokens;
        private int position;
        private int pending = -1;
        private boolean closed;

        Session(int capacity) {
            this.tokens = new int[capacity];
        }

        @Override
        public ConsistencyModel model() {
            return FakeModel.this;
        }

        @Override
        public int position() {
            return position;
        }

        @Override
        public int capacity() {
            return tokens.length;
        }

        @Override
        public int[] forward(int[] block) {
            check(block);
            forwardCalls.incrementAndGet();
            System.arraycopy(block, 0, tokens, position, block.length);
            int[] out = new int[block.length];
            for (int t = 0; t < block.length; t++) {
                out[t] = next(tokens, position + t + 1);
            }
            pending = block.length;
            return out;
        }

        @Override
        public Logits forwardLogits(int[] block) {
            int[] argmax = forward(block);
            float[] values = new float[block.length * config.vocabSize()];
            for (int t = 0; t < block.length; t++) {
                values[t * config.vocabSize() + argmax[t]] = 1f;
            }
            return new Logits(values, block.length, config.vocabSize());
        }

        @Override
        public void commit(int count) {
            if (pending < 0 || count < 0 || count > pending) {
                throw new IllegalStateException("commit " + count + " of " + pending);
            }
            position += count;
            pending = -1;
        }

        @Override
        public int prefill(int[] prompt) {
            int[] out = forward(prompt);
            commit(prompt.length);
            return out[out.length - 1];
        }

        @Override
        public void rewind(int newPosition) {
            if (newPosition < 0 || newPosition > position) {
                throw new IllegalArgumentException("rewind " + newPosition);
            }
            position = newPosition;
            pending = -1;
        }

        private void check(int[] block) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            if (block.length == 0 || position + block.length > tokens.length) {
                throw new IllegalArgumentException("block of " + block.length + " at " + position + " in "
                        + tokens.length);
            }
            config.checkTokenIds(block, block.length, "block");
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
