package dev.cllm.torch;

import dev.cllm.api.BatchPass;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Logits;
import dev.cllm.api.TokenSelector;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;

import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A decoding session on a {@link LlamaModel}: one static KV cache, the committed position and tokens, and the token
 * selector.
 *
 * <p>Every forward pass runs inside its own {@code PointerScope} and {@code InferenceMode}; only Java arrays leave
 * it, so native memory stays flat however long the session runs. Tokens are selected on the device
 * ({@link DeviceSelector}): greedy decoding is one argmax, as before selectors existed.
 *
 * <p>Locking, always in this order: a call that touches native memory (a pass, a cache move, the cache's creation)
 * holds its model open ({@link TorchConsistencyModel#enter()}), then this session's monitor, then the weights
 * ({@link LlamaModel#acquire()}). The model's {@code close()} takes its write lock and then each session's monitor, so
 * it waits for passes in flight and frees no cache under one; {@link #close()} takes only the monitor, so a session
 * closed by its own thread and by its model's close at once is freed exactly once.
 */
final class TorchSession implements DecodingSession {
    /** Prompts longer than this are prefilled in chunks, bounding the attention scratch memory. */
    static final int PREFILL_CHUNK = 512;

    private static final AtomicLong IDS = new AtomicLong();

    private final long id = IDS.incrementAndGet();
    private final TorchConsistencyModel owner;
    private final LlamaModel llama;
    private final KvCache cache;
    private final int[] history;        // the committed tokens (penalties read them)
    private int position;
    private int outputStart;            // where the generated tokens start: after the prompt's prefill
    private DraftTree pending;          // the last forwarded, not yet committed block or tree; null when none
    private TokenSelector selector = TokenSelector.GREEDY;
    private boolean closed;

    TorchSession(TorchConsistencyModel owner, LlamaModel llama, int capacity) {
        this.owner = owner;
        this.llama = llama;
        this.cache = llama.newCache(capacity);
        this.history = new int[capacity];
    }

    @Override
    public TorchConsistencyModel model() {
        return owner;
    }

    @Override
    public synchronized int position() {
        checkOpen();
        return position;
    }

    @Override
    public int capacity() {
        return cache.capacity;
    }

    @Override
    public synchronized void select(TokenSelector s) {
        checkOpen();
        this.selector = Objects.requireNonNull(s, "selector");
    }

    @Override
    public synchronized TokenSelector selector() {
        checkOpen();
        return selector;
    }

    @Override
    public int[] forward(int[] block) {
        owner.enter();
        try {
            synchronized (this) {
                return forwardLocked(block);
            }
        } finally {
            owner.exit();
        }
    }

    private int[] forwardLocked(int[] block) {
        checkBlock(block, "block");
        llama.acquire();
        try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
            Tensor logits = llama.forward(Tensors.ids(block, block.length, llama.device()), cache, position, false);
            int[] next = selector.isGreedyArgmax() ? argmax(logits)
                    : selectAfter(logits, chainPrefixes(block), chainPositions(block.length));
            pending = DraftTree.chain(block);
            return next;
        } finally {
            llama.release();
        }
    }

    @Override
    public int[] forward(DraftTree tree) {
        if (tree.isChain()) {
            return forward(tree.tokens());              // the plain causal pass: no mask to build, nothing to move
        }
        owner.enter();
        try {
            synchronized (this) {
                return forwardTreeLocked(tree);
            }
        } finally {
            owner.exit();
        }
    }

    private int[] forwardTreeLocked(DraftTree tree) {
        int[] tokens = tree.tokens();
        checkBlock(tokens, "tree");
        TreeLayout layout = layout(tree);
        llama.acquire();
        try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
            Tensor logits = llama.forwardTree(Tensors.ids(tokens, tree.size(), llama.device()), cache, position,
                    layout.depths(), layout.ancestors());
            int[] next = layout.prefixes() == null ? argmax(logits)
                    : selectAfter(logits, layout.prefixes(), layout.positions());
            pending = tree;
            return next;
        } finally {
            llama.release();
        }
    }

    /**
     * What a tree pass needs besides its tokens: each node's depth, the row-major ancestor mask, and, unless selection
     * is the greedy argmax, each node's prefix (the tokens from the root to it) and the position selected after it.
     */
    private record TreeLayout(long[] depths, boolean[] ancestors, int[][] prefixes, int[] positions) {
    }

    private TreeLayout layout(DraftTree tree) {
        int[] tokens = tree.tokens();
        int s = tree.size();
        long[] depths = new long[s];
        boolean[] ancestors = new boolean[s * s];
        boolean greedy = selector.isGreedyArgmax();
        int[][] prefixes = greedy ? null : new int[s][];
        int[] positions = new int[s];
        for (int i = 0; i < s; i++) {
            depths[i] = tree.depth(i);
            ancestors[i * s + i] = true;
            int parent = tree.parent(i);
            if (parent >= 0) {                           // a node sees what its parent sees (parents come first)
                System.arraycopy(ancestors, parent * s, ancestors, i * s, i);
            }
            if (!greedy) {
                int[] path = tree.path(i);
                prefixes[i] = new int[path.length];
                for (int d = 0; d < path.length; d++) {
                    prefixes[i][d] = tokens[path[d]];
                }
            }
            positions[i] = position + tree.depth(i) + 1;
        }
        return new TreeLayout(depths, ancestors, prefixes, positions);
    }

    // ------------------------------------------------------------------------------------------------ batched passes

    /**
     * A pass of this session checked and laid out for {@link LlamaModel#forwardPacked}; {@link #finish} completes it
     * from its rows of the packed logits.
     */
    record Prepared(TorchSession session, BatchPass pass, LlamaModel.Segment segment, int[][] prefixes,
                    int[] positions) {
    }

    /**
     * Checks one pass of a batch and lays it out as a packed segment. The caller holds the model open and this
     * session's monitor, from here to {@link #finish}.
     *
     * @throws IllegalArgumentException as {@link #forward}, {@link #forward(DraftTree)} or {@link #prefill} would
     * @throws IllegalStateException    if this session is closed
     */
    Prepared prepare(BatchPass pass) {
        DraftTree tree = pass.tree();
        int[] tokens = tree.tokens();
        if (pass.prefill()) {
            checkBlock(tokens, "prefill");
            if (tokens.length > PREFILL_CHUNK) {
                throw new IllegalArgumentException("a prefill of " + tokens.length + " tokens is longer than a packed"
                        + " chunk (" + PREFILL_CHUNK + "): run it alone");
            }
            return new Prepared(this, pass, LlamaModel.Segment.block(cache, position, tokens.length, true), null,
                    null);
        }
        if (tree.isChain()) {
            checkBlock(tokens, "block");
            boolean greedy = selector.isGreedyArgmax();
            return new Prepared(this, pass, LlamaModel.Segment.block(cache, position, tokens.length, false),
                    greedy ? null : chainPrefixes(tokens), greedy ? null : chainPositions(tokens.length));
        }
        checkBlock(tokens, "tree");
        TreeLayout layout = layout(tree);
        return new Prepared(this, pass, LlamaModel.Segment.tree(cache, position, layout.depths(), layout.ancestors()),
                layout.prefixes(), layout.positions());
    }

    /**
     * Completes a prepared pass from its logits ({@code [1, rows, V]}): selects the tokens and leaves the session as
     * its own call would (a prefill committed, a forward pending).
     */
    int[] finish(Prepared p, Tensor logits) {
        DraftTree tree = p.pass().tree();
        if (p.pass().prefill()) {
            int[] tokens = tree.tokens();
            int start = position;
            System.arraycopy(tokens, 0, history, position, tokens.length);
            position += tokens.length;
            if (start == 0) {
                outputStart = position;                  // the prompt: what follows is generated
            }
            pending = null;
            return new int[]{selectAfter(logits, new int[][]{new int[0]}, new int[]{position})[0]};
        }
        int[] next = p.prefixes() == null ? argmax(logits) : selectAfter(logits, p.prefixes(), p.positions());
        pending = tree;
        return next;
    }

    /** Runs a pass alone; the caller holds the model open and this session's monitor. */
    int[] runLocked(BatchPass pass) {
        if (pass.prefill()) {
            return new int[]{prefillLocked(pass.tree().tokens())};
        }
        return pass.tree().isChain() ? forwardLocked(pass.tree().tokens()) : forwardTreeLocked(pass.tree());
    }

    /** Orders sessions for locking several at once (a batch locks its sessions in this order). */
    long id() {
        return id;
    }

    @Override
    public Logits forwardLogits(int[] block) {
        owner.enter();
        try {
            synchronized (this) {
                checkBlock(block, "block");
                llama.acquire();
                try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
                    Tensor logits = llama.forward(Tensors.ids(block, block.length, llama.device()), cache, position,
                            false);
                    float[] values = Tensors.toFloats(logits);                           // [1, T, V]
                    pending = DraftTree.chain(block);
                    return new Logits(values, block.length, llama.config().vocabSize());
                } finally {
                    llama.release();
                }
            }
        } finally {
            owner.exit();
        }
    }

    @Override
    public synchronized void commit(int count) {
        checkOpen();
        if (pending == null) {
            throw new IllegalStateException("nothing to commit: no forward pass since the last commit or rewind");
        }
        if (count < 0 || count > pending.size()) {
            throw new IllegalArgumentException("cannot commit " + count + " tokens of a block of " + pending.size());
        }
        if (count > 0 && !pending.isChain()) {
            throw new IllegalArgumentException("the last pass ran a tree: commit a path of it with commitPath");
        }
        for (int i = 0; i < count; i++) {
            history[position + i] = pending.token(i);
        }
        position += count;
        pending = null;
    }

    @Override
    public void commitPath(int node) {
        owner.enter();
        try {
            synchronized (this) {
                commitPathLocked(node);
            }
        } finally {
            owner.exit();
        }
    }

    private void commitPathLocked(int node) {
        checkOpen();
        if (pending == null) {
            throw new IllegalStateException("nothing to commit: no forward pass since the last commit or rewind");
        }
        if (node < 0 || node >= pending.size()) {
            throw new IllegalArgumentException("node " + node + " is not in the last tree of " + pending.size()
                    + " nodes");
        }
        int[] path = pending.path(node);
        int moves = 0;
        for (int d = 0; d < path.length; d++) {
            moves += path[d] != d ? 1 : 0;
        }
        if (moves > 0) {                                 // the path's entries must follow the committed ones
            long[] from = new long[moves];
            long[] to = new long[moves];
            int m = 0;
            for (int d = 0; d < path.length; d++) {
                if (path[d] != d) {
                    from[m] = position + path[d];
                    to[m++] = position + d;
                }
            }
            llama.acquire();
            try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
                cache.move(from, to);
            } finally {
                llama.release();
            }
        }
        for (int d = 0; d < path.length; d++) {
            history[position + d] = pending.token(path[d]);
        }
        position += path.length;
        pending = null;
    }

    @Override
    public int prefill(int[] tokens) {
        owner.enter();
        try {
            synchronized (this) {
                return prefillLocked(tokens);
            }
        } finally {
            owner.exit();
        }
    }

    private int prefillLocked(int[] tokens) {
        checkBlock(tokens, "prefill");
        int next = -1;
        int start = position;
        llama.acquire();
        try (InferenceMode guard = new InferenceMode()) {
            for (int from = 0; from < tokens.length; from += PREFILL_CHUNK) {
                int length = Math.min(PREFILL_CHUNK, tokens.length - from);
                int[] chunk = Arrays.copyOfRange(tokens, from, from + length);
                boolean last = from + length == tokens.length;
                try (PointerScope scope = new PointerScope()) {
                    Tensor logits = llama.forward(Tensors.ids(chunk, length, llama.device()), cache, position, true);
                    System.arraycopy(chunk, 0, history, position, length);
                    position += length;
                    if (last) {
                        if (start == 0) {
                            outputStart = position;      // the prompt: what follows is generated
                        }
                        next = selectAfter(logits, new int[][]{new int[0]}, new int[]{position})[0];
                    }
                }
            }
        } finally {
            llama.release();
        }
        pending = null;
        return next;
    }

    @Override
    public synchronized void rewind(int newPosition) {
        checkOpen();
        if (newPosition < 0 || newPosition > position) {
            throw new IllegalArgumentException("cannot rewind to " + newPosition + ": committed position is "
                    + position);
        }
        position = newPosition;
        pending = null;
        if (newPosition == 0) {
            selector = TokenSelector.GREEDY;
            outputStart = 0;
        }
    }

    /**
     * The token after each row of {@code logits} ({@code [1, S, V]}): the argmax when greedy (the fast path), else the
     * selector's chain on the device.
     */
    private int[] selectAfter(Tensor logits, int[][] prefixes, int[] positions) {
        if (selector.isGreedyArgmax()) {
            return argmax(logits);
        }
        Tensor rows = logits.view(logits.size(1), logits.size(2));             // [S, V]
        return DeviceSelector.select(rows, selector, history, position, outputStart, prefixes, positions);
    }

    private static int[] argmax(Tensor logits) {
        return Tensors.toInts(logits.argmax(Tensors.LAST_DIM, false));          // [1, S] -> S ids
    }

    /** Each block row's tokens after the committed ones: {@code block[0..t]}. */
    private static int[][] chainPrefixes(int[] block) {
        int[][] out = new int[block.length][];
        for (int t = 0; t < block.length; t++) {
            out[t] = Arrays.copyOf(block, t + 1);
        }
        return out;
    }

    /** The positions of the tokens selected after each of {@code length} block rows. */
    private int[] chainPositions(int length) {
        int[] out = new int[length];
        for (int t = 0; t < length; t++) {
            out[t] = position + t + 1;
        }
        return out;
    }

    private void checkBlock(int[] block, String what) {
        checkOpen();
        if (block.length == 0) {
            throw new IllegalArgumentException(what + " is empty");
        }
        if ((long) position + block.length > cache.capacity) {
            throw new IllegalArgumentException(what + " of " + block.length + " tokens at position " + position
                    + " does not fit the session's capacity of " + cache.capacity + " positions");
        }
        owner.config().checkTokenIds(block, block.length, what);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("session is closed");
        }
        if (llama.isClosed()) {
            throw new IllegalStateException("the model of this session is closed");
        }
    }

    /** Bytes held by this session's KV cache. */
    long cacheBytes() {
        return cache.bytes();
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            cache.close();
            owner.sessionClosed(this);
        }
    }
}
