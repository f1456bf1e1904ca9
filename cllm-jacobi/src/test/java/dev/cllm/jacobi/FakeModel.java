package dev.cllm.jacobi;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Logits;
import dev.cllm.api.ModelConfig;
import dev.cllm.api.TokenSelector;
import dev.cllm.api.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A deterministic stand-in for a language model: the greedy next token is a hash of the last {@code order} tokens.
 * Its logits (for sampling) put {@link #PEAK} on that token and pseudo-random values in [0, 1) elsewhere, also a
 * function of the last tokens only. Its sessions follow the {@link DecodingSession} contract exactly (a forward writes
 * the block after the committed tokens; a commit keeps a prefix; a tree's nodes see only their ancestors; tokens are
 * selected by {@link TokenSelector#select}), so decoders can be tested in microseconds.
 */
final class FakeModel implements ConsistencyModel {
    private final ModelConfig config;
    private final int order;
    private final long salt;
    private final int attractor;
    private int[] script;   // when set, the greedy token at each position, whatever came before it
    final AtomicLong forwardCalls = new AtomicLong();
    private volatile List<DraftTree> passes;
    private Tokenizer tokenizer;

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

    /**
     * A model that predicts every token right whatever its inputs: the greedy token after any {@code length} tokens is
     * {@code script[length]} (the first stop token of {@code eos} past its end), so its predictions after wrong
     * guesses are as right as after the true prefix (a perfect CLLM).
     */
    static FakeModel scripted(int vocabSize, int contextLength, Set<Integer> eos, int[] script) {
        FakeModel m = new FakeModel(vocabSize, contextLength, eos, 1, 0, -1);
        m.script = script.clone();
        return m;
    }

    /**
     * From now on, records what every forward pass of this model's sessions ran (a block as a chain; prefills aside),
     * in a new list that this returns.
     */
    List<DraftTree> recordPasses() {
        List<DraftTree> record = Collections.synchronizedList(new ArrayList<>());
        passes = record;
        return record;
    }

    /** The greedy next token after {@code seq[0..length)}. */
    int next(int[] seq, int length) {
        if (script != null) {
            return length < script.length ? script[length] : Collections.min(config.eosTokenIds());
        }
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

    /** The greedy token's logit; the others are in [0, 1). */
    static final float PEAK = 2.5f;

    /** The logits after {@code seq[0..length)}: a peak at {@link #next}, noise elsewhere. */
    float[] logits(int[] seq, int length) {
        int vocab = config.vocabSize();
        float[] out = new float[vocab];
        long h = salt * 31 + length;
        for (int i = Math.max(0, length - order); i < length; i++) {
            h = (h ^ seq[i]) * 0xC2B2AE3D27D4EB4FL;
        }
        for (int v = 0; v < vocab; v++) {
            long z = (h + v) * 0x9E3779B97F4A7C15L;
            z ^= z >>> 31;
            out[v] = (z >>> 40) / (float) (1L << 24);
        }
        out[next(seq, length)] = PEAK;
        return out;
    }

    /** The token selector picks after {@code seq[0..length)} (greedy: exactly {@link #next}). */
    int select(TokenSelector selector, int[] seq, int length, int outputStart) {
        if (selector.isGreedyArgmax()) {
            return next(seq, length);
        }
        return selector.select(logits(seq, length), 0, config.vocabSize(), seq, length, outputStart);
    }

    /** Autoregressive decoding with {@code selector}: the reference every decoder must reproduce when sampling. */
    int[] reference(int[] prompt, int maxNewTokens, Set<Integer> stops, TokenSelector selector) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int length = prompt.length;
        int limit = Math.min(prompt.length + maxNewTokens, config.contextLength());
        while (length < limit) {
            int t = select(selector, seq, length, prompt.length);
            if (stops.contains(t)) {
                break;
            }
            seq[length++] = t;
        }
        return Arrays.copyOfRange(seq, prompt.length, length);
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
        return Optional.ofNullable(tokenizer);
    }

    /** Gives the model a tokenizer (for text, stop strings and chat tests). */
    FakeModel withTokenizer(Tokenizer t) {
        this.tokenizer = t;
        return this;
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
        private DraftTree pending;
        private int outputStart;
        private TokenSelector selector = TokenSelector.GREEDY;
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
            return forward(DraftTree.chain(block));
        }

        @Override
        public int[] forward(DraftTree tree) {
            List<DraftTree> record = passes;
            if (record != null) {
                record.add(tree);
            }
            return run(tree);
        }

        private int[] run(DraftTree tree) {
            check(tree.tokens());
            forwardCalls.incrementAndGet();
            int[] out = new int[tree.size()];
            int[] seq = Arrays.copyOf(tokens, position + tree.maxDepth() + 1);
            for (int i = 0; i < tree.size(); i++) {
                int[] path = tree.path(i);
                for (int d = 0; d < path.length; d++) {
                    seq[position + d] = tree.token(path[d]);
                }
                out[i] = FakeModel.this.select(selector, seq, position + path.length, outputStart);
            }
            pending = tree;
            return out;
        }

        @Override
        public Logits forwardLogits(int[] block) {
            check(block);
            forwardCalls.incrementAndGet();
            System.arraycopy(block, 0, tokens, position, block.length);
            int vocab = config.vocabSize();
            float[] values = new float[block.length * vocab];
            for (int t = 0; t < block.length; t++) {
                System.arraycopy(logits(tokens, position + t + 1), 0, values, t * vocab, vocab);
            }
            pending = DraftTree.chain(block);
            return new Logits(values, block.length, vocab);
        }

        @Override
        public void commit(int count) {
            if (pending == null || count < 0 || count > pending.size() || count > 0 && !pending.isChain()) {
                throw new IllegalStateException("commit " + count + " of " + pending);
            }
            if (count == 0) {
                pending = null;
                return;
            }
            commitPath(count - 1);
        }

        @Override
        public void commitPath(int node) {
            if (pending == null) {
                throw new IllegalStateException("nothing forwarded");
            }
            if (node < 0 || node >= pending.size()) {
                throw new IllegalArgumentException("node " + node + " of " + pending.size());
            }
            int[] path = pending.path(node);
            for (int d = 0; d < path.length; d++) {
                tokens[position + d] = pending.token(path[d]);
            }
            position += path.length;
            pending = null;
        }

        @Override
        public void select(TokenSelector s) {
            this.selector = s;
        }

        @Override
        public TokenSelector selector() {
            return selector;
        }

        @Override
        public int prefill(int[] prompt) {
            int[] out = run(DraftTree.chain(prompt));
            commit(prompt.length);
            if (position == prompt.length) {
                outputStart = position;
            }
            return out[out.length - 1];
        }

        @Override
        public void rewind(int newPosition) {
            if (newPosition < 0 || newPosition > position) {
                throw new IllegalArgumentException("rewind " + newPosition);
            }
            position = newPosition;
            pending = null;
            if (newPosition == 0) {
                selector = TokenSelector.GREEDY;
                outputStart = 0;
            }
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
