package dev.cllm.api;

/**
 * The outcome of one {@link BatchPass} of a batched forward: the tokens selected, or the exception that pass would
 * have thrown alone (a bad block, a closed session). One pass failing never fails the others.
 *
 * @param selected the selected tokens (one for a prefill, one per node otherwise), or null when the pass failed
 * @param error    why the pass failed, or null
 */
public record PassResult(TokenIds selected, RuntimeException error) {

    public PassResult {
        if ((selected == null) == (error == null)) {
            throw new IllegalArgumentException("a pass result holds either tokens or an error");
        }
    }

    /** A pass that selected {@code tokens} (copied). */
    public static PassResult of(int[] tokens) {
        return new PassResult(TokenIds.of(tokens), null);
    }

    /** A pass that failed with {@code error}. */
    public static PassResult failed(RuntimeException error) {
        return new PassResult(null, error);
    }

    /**
     * The selected tokens.
     *
     * @throws RuntimeException the pass's error, if it failed (the same exception object)
     */
    public int[] tokensOrThrow() {
        if (error != null) {
            throw error;
        }
        return selected.toArray();
    }
}
