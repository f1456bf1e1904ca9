package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Logits;
import dev.cllm.api.TokenSelector;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;

/**
 * A decoding session on a {@link LlamaModel}: one static KV cache and the committed position.
 *
 * <p>Every forward pass runs inside its own {@code PointerScope} and {@code InferenceMode}; only Java arrays leave
 * it, so native memory stays flat however long the session runs.
 */
final class TorchSession implements DecodingSession {
    /** Prompts longer than this are prefilled in chunks, bounding the attention scratch memory. */
    static final int PREFILL_CHUNK = 512;

    private final TorchConsistencyModel owner;
    private final LlamaModel llama;
    private final KvCache cache;
    private int position;
    private int pendingLength = -1; // length of the last forwarded, not yet committed block; -1 when none
    private boolean closed;

    TorchSession(TorchConsistencyModel owner, LlamaModel llama, int capacity) {
        this.owner = owner;
        this.llama = llama;
        this.cache = llama.newCache(capacity);
    }

    @Override
    public TorchConsistencyModel model() {
        return owner;
    }

    @Override
    public int position() {
        checkOpen();
        return position;
    }

    @Override
    public int capacity() {
        return cache.capacity;
    }

    @Override
    public int[] forward(int[] block) {
        checkBlock(block, "block");
        llama.acquire();
        try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
            Tensor logits = llama.forward(Tensors.ids(block, block.length, llama.device()), cache, position, false);
            int[] next = Tensors.toInts(logits.argmax(Tensors.LAST_DIM, false)); // [1, T] -> T ids
            pendingLength = block.length;
            return next;
        } finally {
            llama.release();
        }
    }

    @Override
    public Logits forwardLogits(int[] block) {
        checkBlock(block, "block");
        llama.acquire();
        try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
            Tensor logits = llama.forward(Tensors.ids(block, block.length, llama.device()), cache, position, false);
            float[] values = Tensors.toFloats(logits);                           // [1, T, V]
            pendingLength = block.length;
            return new Logits(values, block.length, llama.config().vocabSize());
        } finally {
            llama.release();
        }
    }

    @Override
    public int[] forward(DraftTree tree) {
        if (!tree.isChain()) {
            throw new UnsupportedOperationException("tree verification is not implemented yet");
        }
        return forward(tree.tokens());
    }

    @Override
    public void commitPath(int node) {
        commit(node + 1);
    }

    @Override
    public void select(TokenSelector selector) {
        if (!selector.isGreedyArgmax()) {
            throw new UnsupportedOperationException("sampling is not implemented yet");
        }
    }

    @Override
    public TokenSelector selector() {
        return TokenSelector.GREEDY;
    }

    @Override
    public void commit(int count) {
        checkOpen();
        if (pendingLength < 0) {
            throw new IllegalStateException("nothing to commit: no forward pass since the last commit or rewind");
        }
        if (count < 0 || count > pendingLength) {
            throw new IllegalArgumentException("cannot commit " + count + " tokens of a block of " + pendingLength);
        }
        position += count;
        pendingLength = -1;
    }

    @Override
    public int prefill(int[] tokens) {
        checkBlock(tokens, "prefill");
        int next = -1;
        llama.acquire();
        try (InferenceMode guard = new InferenceMode()) {
            for (int start = 0; start < tokens.length; start += PREFILL_CHUNK) {
                int length = Math.min(PREFILL_CHUNK, tokens.length - start);
                int[] chunk = java.util.Arrays.copyOfRange(tokens, start, start + length);
                try (PointerScope scope = new PointerScope()) {
                    Tensor logits = llama.forward(Tensors.ids(chunk, length, llama.device()), cache, position, true);
                    next = Tensors.toInts(logits.argmax(Tensors.LAST_DIM, false))[0];  // [1, 1] -> id
                }
                position += length;
            }
        } finally {
            llama.release();
        }
        pendingLength = -1;
        return next;
    }

    @Override
    public void rewind(int newPosition) {
        checkOpen();
        if (newPosition < 0 || newPosition > position) {
            throw new IllegalArgumentException("cannot rewind to " + newPosition + ": committed position is "
                    + position);
        }
        position = newPosition;
        pendingLength = -1;
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
    public void close() {
        if (!closed) {
            closed = true;
            cache.close();
            owner.sessionClosed(this);
        }
    }
}
