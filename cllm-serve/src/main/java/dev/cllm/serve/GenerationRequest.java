package dev.cllm.serve;

import dev.cllm.api.ChatMessage;
import dev.cllm.api.Decoder;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One request to a {@link GenerationService}: a prompt (token ids, text, or chat messages) and, optionally, how to
 * generate (a {@link GenerationConfig}), with which decoder, a streaming listener and a timeout. What is not given
 * comes from the service: its decoder, that decoder's {@link Decoder#defaults()}, no listener, the service's timeout.
 *
 * <pre>{@code
 * GenerationRequest r = GenerationRequest.text("Once upon a time")
 *         .config(GenerationConfig.builder().maxNewTokens(64).build())
 *         .listener(GenerationListener.text(System.out::print))
 *         .timeout(Duration.ofSeconds(30))
 *         .build();
 * }</pre>
 *
 * <p>Text is encoded with the model's tokenizer (with its special tokens, as {@link Decoder#generate(
 * dev.cllm.api.ConsistencyModel, String)} does); chat messages are rendered with the checkpoint's chat template, and
 * generation also stops at the template's end-of-turn tokens. A checkpoint without a chat template takes a single user
 * message as a plain-text prompt and rejects anything else. Immutable.
 */
public final class GenerationRequest {
    private final TokenIds ids;
    private final String text;
    private final List<ChatMessage> messages;
    private final GenerationConfig config;
    private final Decoder decoder;
    private final GenerationListener listener;
    private final Duration timeout;

    private GenerationRequest(Builder b) {
        this.ids = b.ids;
        this.text = b.text;
        this.messages = b.messages;
        this.config = b.config;
        this.decoder = b.decoder;
        this.listener = b.listener;
        this.timeout = b.timeout;
    }

    /** A request for a prompt of token ids. */
    public static Builder ids(TokenIds prompt) {
        Builder b = new Builder();
        b.ids = Objects.requireNonNull(prompt, "prompt");
        return b;
    }

    /** A request for a text prompt (the model needs a tokenizer). */
    public static Builder text(String prompt) {
        Builder b = new Builder();
        b.text = Objects.requireNonNull(prompt, "prompt");
        return b;
    }

    /** A request for the assistant's reply to a conversation (the model needs a tokenizer). */
    public static Builder chat(List<ChatMessage> messages) {
        Builder b = new Builder();
        b.messages = List.copyOf(messages);
        if (b.messages.isEmpty()) {
            throw new IllegalArgumentException("a chat request needs at least one message");
        }
        return b;
    }

    /** The prompt ids, or null when the prompt is text or chat. */
    public TokenIds ids() {
        return ids;
    }

    /** The text prompt, or null. */
    public String text() {
        return text;
    }

    /** The chat messages, or null. */
    public List<ChatMessage> messages() {
        return messages;
    }

    /** The generation settings, or null for the decoder's defaults. */
    public GenerationConfig config() {
        return config;
    }

    /** The decoder, or null for the service's. */
    public Decoder decoder() {
        return decoder;
    }

    /** The listener ({@link GenerationListener#NONE} when none was given). */
    public GenerationListener listener() {
        return listener;
    }

    /** The timeout from submission to the result, or null for the service's. */
    public Duration timeout() {
        return timeout;
    }

    /** Fills a {@link GenerationRequest}. */
    public static final class Builder {
        private TokenIds ids;
        private String text;
        private List<ChatMessage> messages;
        private GenerationConfig config;
        private Decoder decoder;
        private GenerationListener listener = GenerationListener.NONE;
        private Duration timeout;

        private Builder() {
        }

        /** How to generate; default: the decoder's {@link Decoder#defaults()}. */
        public Builder config(GenerationConfig value) {
            this.config = Objects.requireNonNull(value, "config");
            return this;
        }

        /** The decoder; default: the service's. */
        public Builder decoder(Decoder value) {
            this.decoder = Objects.requireNonNull(value, "decoder");
            return this;
        }

        /**
         * Receives tokens and text as they are accepted, on a worker thread of the service; returning false ends the
         * generation with {@link dev.cllm.api.StopReason#CANCELLED} and a normal result. A slow listener delays only
         * its own request (the others' steps go on without it after the service's {@code maxWait}).
         */
        public Builder listener(GenerationListener value) {
            this.listener = Objects.requireNonNull(value, "listener");
            return this;
        }

        /**
         * The most time from submission to the result, waiting in the queue included; then the request fails with
         * {@link RequestAbortedException.Reason#TIMEOUT}. Default: the service's.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder timeout(Duration value) {
            if (value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, got " + value);
            }
            this.timeout = value;
            return this;
        }

        public GenerationRequest build() {
            return new GenerationRequest(this);
        }
    }
}
