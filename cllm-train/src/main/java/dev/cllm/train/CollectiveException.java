package dev.cllm.train;

/**
 * A collective or the rendezvous of a data-parallel job failed: a rank died or hung, the network failed, or the ranks
 * could not meet. The message names this rank, the operation and the likely cause.
 */
public final class CollectiveException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }

    public CollectiveException(String message) {
        super(message);
    }
}
