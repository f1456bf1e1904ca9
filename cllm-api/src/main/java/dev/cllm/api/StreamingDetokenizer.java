package dev.cllm.api;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Turns accepted tokens into text deltas as they arrive, for streaming output, in time linear in the output length.
 *
 * <p>The incremental detokenization of Hugging Face's {@code TextStreamer} and vLLM: a token's text depends on its
 * neighbours (a word-level decoder joins words with spaces, SentencePiece strips the first token's leading space,
 * byte-level tokens can split one character over several ids), so new tokens are decoded together with a short window
 * of the tokens before them, from a <em>prefix offset</em> to the end, and the delta is what that text adds to the
 * window's text up to the <em>read offset</em> (the end of what was already emitted). A delta is only emitted once the
 * text no longer ends in an incomplete character (U+FFFD); then the window moves on: the prefix offset to the old read
 * offset (but keeping at least four tokens of context), the read offset to the end (or to before the incomplete
 * character, found by trying at most three shorter ends). Each call decodes the previous delivery's tokens and its
 * own, plus a few tokens of context and of a held character, never the whole prefix.
 *
 * <p>The deltas never split a character and concatenate, after {@link #flush()}, to {@code decode(all ids)}. Not
 * thread-safe; use one per generation.
 */
public final class StreamingDetokenizer implements GenerationListener {
    private static final char REPLACEMENT = '\uFFFD';
    /** The most trailing tokens an incomplete character can hold back: a UTF-8 character has at most 4 bytes. */
    private static final int MAX_HELD_TOKENS = 4;
    /**
     * The fewest emitted tokens the window keeps before the new ones. Decoders rewrite text across token boundaries
     * (a word-level decoder that turns {@code "x ' y"} into {@code "x 'y"} needs the token before the quote), so a
     * one-token window after a one-token delivery is not enough context.
     */
    private static final int MIN_CONTEXT_TOKENS = 4;

    private final Tokenizer tokenizer;
    private final Consumer<String> sink;
    private int[] ids = new int[64];
    private int size;
    private int prefixOffset;   // the window's first token: context for the tokens after the read offset
    private int readOffset;     // the tokens before it are emitted

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
        emitNewText(false);
        return true;
    }

    /** Emits whatever is left (an incomplete last character included). */
    public void flush() {
        emitNewText(true);
    }

    private void emitNewText(boolean evenIfIncomplete) {
        if (readOffset == size) {
            return;
        }
        String before = decode(prefixOffset, readOffset);
        int end = size;
        String after = decode(prefixOffset, end);
        // an incomplete last character: emit up to the token before it (a UTF-8 character spans at most 4 tokens)
        while (!evenIfIncomplete && endsIncomplete(after) && end > readOffset + 1 && end > size - MAX_HELD_TOKENS) {
            after = decode(prefixOffset, --end);
        }
        if (after.length() <= before.length() || !evenIfIncomplete && endsIncomplete(after)) {
            return;                             // no text yet (special tokens, or bytes of a character to come)
        }
        sink.accept(after.substring(before.length()));
        prefixOffset = Math.max(0, Math.min(readOffset, end - MIN_CONTEXT_TOKENS));
        readOffset = end;
    }

    private static boolean endsIncomplete(String text) {
        return !text.isEmpty() && text.charAt(text.length() - 1) == REPLACEMENT;
    }

    private String decode(int from, int to) {
        return from == to ? "" : tokenizer.decode(Arrays.copyOfRange(ids, from, to));
    }
}
