package dev.cllm.api;

import java.util.Optional;

/**
 * A causal language model that decoders drive one block of tokens at a time.
 *
 * <p>The model owns its weights (and its tokenizer, if any) and releases them in {@link #close()}. It is
 * thread-safe: any number of threads may each open their own {@link DecodingSession} and decode concurrently;
 * results are the same as running the sessions one after another.
 *
 * <p>Lifecycle: the model outlives its sessions and its tokenizer. {@link #close()} may be called from any thread, also
 * while others decode: it waits for the forward passes in flight, then closes every session and the tokenizer and
 * releases the weights. Afterwards {@link #newSession}, every call on those sessions (but {@code model()},
 * {@code capacity()} and {@code close()}) and every call on the tokenizer throw {@link IllegalStateException}; a
 * thread decoding at that moment either finishes its pass or gets that exception, never a crash.
 */
public interface ConsistencyModel extends AutoCloseable {

    /** What decoders need to know: vocabulary, context length, special ids. */
    ModelConfig config();

    /** The tokenizer shipped with the checkpoint, if any (borrowed: the model closes it). */
    Optional<Tokenizer> tokenizer();

    /**
     * The checkpoint's generation defaults ({@code generation_config.json} over Hugging Face's defaults, with the
     * model's EOS ids), to pass to a decoder as they are or changed with {@link GenerationConfig#toBuilder()}.
     */
    default GenerationConfig generationConfig() {
        return GenerationConfig.defaults();
    }

    /** Opens a session whose KV cache holds the model's full context length. The caller closes it. */
    default DecodingSession newSession() {
        return newSession(config().contextLength());
    }

    /**
     * Opens a session whose KV cache holds {@code capacity} positions (allocated once, now). The caller closes it
     * (closing the model closes it too).
     *
     * @throws IllegalArgumentException if capacity is below 2 or above {@link ModelConfig#contextLength()}
     * @throws IllegalStateException    if the model is closed
     */
    DecodingSession newSession(int capacity);

    /**
     * Waits for the forward passes in flight, closes every open session and the tokenizer, and releases the weights.
     * Idempotent; callable from any thread.
     */
    @Override
    void close();
}
