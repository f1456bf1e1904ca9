package dev.cllm.jacobi;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Logits;
import dev.cllm.api.TokenSelector;

import java.util.ArrayList;
import java.util.List;

/** A session that records the block or tree of every pass and delegates everything else. */
final class RecordingSession implements DecodingSession {
    private final DecodingSession delegate;
    private final List<int[]> blocks;
    private final List<DraftTree> trees;

    RecordingSession(DecodingSession delegate, List<int[]> blocks) {
        this(delegate, blocks, new ArrayList<>());
    }

    RecordingSession(DecodingSession delegate, List<int[]> blocks, List<DraftTree> trees) {
        this.delegate = delegate;
        this.blocks = blocks;
        this.trees = trees;
    }

    @Override
    public ConsistencyModel model() {
        return delegate.model();
    }

    @Override
    public int position() {
        return delegate.position();
    }

    @Override
    public int capacity() {
        return delegate.capacity();
    }

    @Override
    public int[] forward(int[] block) {
        blocks.add(block.clone());
        return delegate.forward(block);
    }

    @Override
    public int[] forward(DraftTree tree) {
        trees.add(tree);
        return delegate.forward(tree);
    }

    @Override
    public void commitPath(int node) {
        delegate.commitPath(node);
    }

    @Override
    public void select(TokenSelector selector) {
        delegate.select(selector);
    }

    @Override
    public TokenSelector selector() {
        return delegate.selector();
    }

    @Override
    public Logits forwardLogits(int[] block) {
        return delegate.forwardLogits(block);
    }

    @Override
    public void commit(int count) {
        delegate.commit(count);
    }

    @Override
    public int prefill(int[] tokens) {
        return delegate.prefill(tokens);
    }

    @Override
    public void rewind(int position) {
        delegate.rewind(position);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
