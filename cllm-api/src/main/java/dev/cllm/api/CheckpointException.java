package dev.cllm.api;

/**
 * A checkpoint (config, weights or tokenizer files) could not be read or does not describe a supported model.
 * The message names the file and, where it applies, the field or tensor and the offending value.
 */
public class CheckpointException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
