package dev.cllm.serve;

import dev.cllm.api.BatchPass;
import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Logits;
import dev.cllm.api.TokenSelector;

/**
 * The session a request's decoder runs on inside a {@link GenerationService}: its own KV cache (a session of the
 * model), but every pass ({@link #prefill}, {@link #forward}) is handed to the service's scheduler, which runs it in
 * the next batched step with the other requests' passes; the call blocks until then. Committing, selection and
 * rewinding act on the cache directly. {@link #forwardLogits} runs alone, outside the batches.
 *
 * <p>Used by one worker thread. Throws {@link RequestAbortedException} from a pass once its request is cancelled, timed
 * out or shut down, which ends the decoder's loop.
 */
final class ServiceSession implements DecodingSession {
    private final GenerationService service;
    private final ActiveRequest request;
    private final DecodingSession cache;

    ServiceSession(GenerationService service, ActiveRequest request, DecodingSession cache) {
        this.service = service;
        this.request = request;
        this.cache = cache;
    }

    @Override
    public ConsistencyModel model() {
        return cache.model();
    }

    @Override
    public int position() {
        return cache.position();
    }

    @Override
    public int capacity() {
        return cache.capacity();
    }

    @Override
    public int[] forward(int[] block) {
        return service.pass(request, BatchPass.forward(cache, block));
    }

    @Override
    public int[] forward(DraftTree tree) {
        return service.pass(request, BatchPass.forward(cache, tree));
    }

    @Override
    public int prefill(int[] tokens) {
        return service.pass(request, BatchPass.prefill(cache, tokens))[0];
    }

    @Override
    public void commitPath(int node) {
        cache.commitPath(node);
    }

    @Override
    public void select(TokenSelector selector) {
        cache.select(selector);
    }

    @Override
    public TokenSelector selector() {
        return cache.selector();
    }

    @Override
    public Logits forwardLogits(int[] block) {
        request.throwIfAborted();
        return cache.forwardLogits(block);
    }

    @Override
    public void commit(int count) {
        cache.commit(count);
    }

    @Override
    public void rewind(int position) {
        cache.rewind(position);
    }

    @Override
    public void close() {
        cache.close();
    }
}
