package dev.cllm.api;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Turns accepted tokens into text deltas as they arrive, for streaming output.
 *
 * <p>Byte-level tokens can split one character over several ids, so a delta is only emitted once the decoded text no
 * longer ends in an incomplete character (U+FFFD). Not thread-safe; use one per generation.
 */
public final class StreamingDetokenizer implements GenerationListener {
    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private final Consumer<String> sink;
    private int[] ids = new int[64];
    private int size;
    private int emittedChars;

    /** Emits each text delta to {@code sink}. */
    public StreamingDetokenizer(Tokenizer tokenizer, Consumer<String> sink) {
        this.tokenizer = tokenizer;
        this.sink = sink;
    }

    @Override
    public boolean onTokens(TokenIds accepted) {
        if (size + accepted.size() > ids.length) {
            ids = Arrays.copyOf(ids, Math.max(ids.length * 2, size + accepted.size()));
        }
        accepted.copyTo(ids, size);
        size += accepted.size();
        String text = tokenizer.decode(Arrays.copyOf(ids, size));
        if (!text.isEmpty() && text.charAt(text.length() - 1) == REPLACEMENT) {
            return true; // wait for the rest of the character
        }
        if (text.length() > emittedChars) {
            sink.accept(text.substring(emittedChars));
            emittedChars = text.length();
        }
        return true;
    }

    /** Emits whatever is left (an incomplete last character included). */
    public void flush() {
        String text = tokenizer.decode(Arrays.copyOf(ids, size));
        if (text.length() > emittedChars) {
            sink.accept(text.substring(emittedChars));
            emittedChars = text.length();
        }
    }
}
