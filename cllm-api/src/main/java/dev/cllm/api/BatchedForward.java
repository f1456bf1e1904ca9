package dev.cllm.api;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the passes of several sessions of one model as one batched forward: the weights are read once for all their
 * tokens, which is what makes serving many requests at once cheaper than serving them one after another (a
 * single-token pass of a large model on a CPU is bound by reading the weights).
 *
 * <p>Each pass is computed as if its session ran it alone: its tokens attend only to its own session's cache and to
 * their own mask (causal block or tree ancestors), so the selected tokens equal the session's own
 * {@link DecodingSession#forward} up to floating-point rounding (a matrix product over more rows may sum in another
 * order; where a model's two best logits are that close, the argmax can differ, as between a Jacobi block and a
 * single-token pass). Sessions are left exactly as after their own call: a prefill committed, a forward pending
 * its commit.
 *
 * <p>A {@link ConsistencyModel} implements this when its engine can batch (cllm-torch's model does);
 * {@link #sequential} runs the passes one after another on any model. Thread-safe: any thread may call it, but a
 * session must not be used elsewhere while its pass runs, and may appear at most once per batch.
 */
public interface BatchedForward {

    /**
     * Runs every pass, as one batched forward where the engine can.
     *
     * @param passes the passes, each on a different session of this model
     * @return one result per pass, in order: the selected tokens or the exception that pass alone would have thrown
     *         (a closed model fails every pass with {@link IllegalStateException})
     * @throws IllegalArgumentException if a session appears twice
     */
    List<PassResult> forwardBatch(List<BatchPass> passes);

    /**
     * Bytes of KV cache a session of {@code capacity} positions allocates ({@link ConsistencyModel#newSession(int)}),
     * or 0 when unknown.
     */
    long cacheBytes(int capacity);

    /** Runs each pass alone, one after another, on any model; cache sizes unknown. */
    static BatchedForward sequential(ConsistencyModel model) {
        return new BatchedForward() {
            @Override
            public List<PassResult> forwardBatch(List<BatchPass> passes) {
                checkDistinct(passes);
                List<PassResult> out = new ArrayList<>(passes.size());
                for (BatchPass p : passes) {
                    out.add(runAlone(p));
                }
                return out;
            }

            @Override
            public long cacheBytes(int capacity) {
                return 0;
            }

            @Override
            public String toString() {
                return "sequential(" + model + ")";
            }
        };
    }

    /** The engine {@code model} batches with: itself when it implements this interface, else {@link #sequential}. */
    static BatchedForward of(ConsistencyModel model) {
        return model instanceof BatchedForward b ? b : sequential(model);
    }

    /** Runs one pass alone, turning its exception into a failed result. */
    static PassResult runAlone(BatchPass pass) {
        try {
            return PassResult.of(pass.runAlone());
        } catch (RuntimeException e) {
            return PassResult.failed(e);
        }
    }

    /** @throws IllegalArgumentException naming the first session that appears twice */
    static void checkDistinct(List<BatchPass> passes) {
        Map<DecodingSession, Integer> seen = new IdentityHashMap<>();
        for (int i = 0; i < passes.size(); i++) {
            Integer before = seen.put(passes.get(i).session(), i);
            if (before != null) {
                throw new IllegalArgumentException("passes " + before + " and " + i + " run on the same session; a "
                        + "session may run one pass per batch");
            }
        }
    }
}
