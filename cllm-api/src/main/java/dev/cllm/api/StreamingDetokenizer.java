package dev.cllm.api;

import java.util.Arrays;
import java.util.BitSet;
import java.util.function.Consumer;

/**
 * Turns accepted tokens into text deltas as they arrive, for streaming output, in time linear in the output length.
 *
 * <p>The incremental detokenization of Hugging Face's {@code TextStreamer} and vLLM: a token's text depends on its
 * neighbours (a word-level decoder joins words with spaces, SentencePiece strips the first token's leading space,
 * byte-level tokens can split one character over several ids), so new tokens are decoded together with a short window
 * of the tokens before them, from a <em>prefix offset</em> to the end, and the delta is what that text adds to the
 * window's text up to the <em>read offset</em> (the end of what was already emitted). A delta is only emitted once the
 * text no longer ends in an incomplete character (U+FFFD); then the window moves on: the prefix offset back from the
 * old read offset over four tokens of context (tokens that decode to nothing on their own, such as special tokens, do
 * not count, since they are no context), the read offset to the end (or to before the incomplete character, found by
 * trying at most three shorter ends). Each call decodes its own tokens, four tokens of context (with any silent ones
 * among them) and a held character's, never the whole prefix; each distinct id is also decoded alone once.
 *
 * <p>The deltas never split a character and concatenate, after {@link #flush()}, to {@code decode(all ids)}. Not
 * thread-safe; use one per generation.
 */
public final class StreamingDetokenizer implements GenerationListener {
    private static final char REPLACEMENT = '\uFFFD';
    /** The most trailing tokens an incomplete character can hold back: a UTF-8 character has at most 4 bytes. */
    private static final int MAX_HELD_TOKENS = 4;
    /**
     * The fewest emitted tokens with text of their own the window keeps before the new ones. Decoders rewrite text
     * across token boundaries (a word-level decoder that turns {@code "x ' y"} into {@code "x 'y"} needs the word
     * before the quote), so a one-token window after a one-token delivery is not enough context; and tokens that
     * decode to nothing (padding between two words) would fill a window of a fixed number of tokens and hide the word.
     */
    private static final int MIN_CONTEXT_TOKENS = 4;

    private final Tokenizer tokenizer;
    private final Consumer<String> sink;
    private int[] ids = new int[64];
    private int size;
    private int prefixOffset;   // the window's first token: context for the tokens after the read offset
    private int readOffset;     // the tokens before it are emitted
    // ids known to decode to nothing on their own, and ids known to decode to something (each decoded once)
    private final BitSet silent = new BitSet();
    private final BitSet voiced = new BitSet();

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
        readOffset = end;
        prefixOffset = windowStart();
    }

    /** Back from the read offset over {@link #MIN_CONTEXT_TOKENS} tokens that have text on their own. */
    private int windowStart() {
        int start = readOffset;
        for (int counted = 0; start > 0 && counted < MIN_CONTEXT_TOKENS; start--) {
            if (!isSilent(ids[start - 1])) {
                counted++;
            }
        }
        return start;
    }

    private boolean isSilent(int id) {
        if (id < 0) {
            return false;                       // not cached (a bit set has no negative index); counted as text
        }
        if (silent.get(id)) {
            return true;
        }
        if (!voiced.get(id)) {
            if (tokenizer.decode(new int[] {id}).isEmpty()) {
                silent.set(id);
                return true;
            }
            voiced.set(id);
        }
        return false;
    }

    private static boolean endsIncomplete(String text) {
        return !text.isEmpty() && text.charAt(text.length() - 1) == REPLACEMENT;
    }

    private String decode(int from, int to) {
        return from == to ? "" : tokenizer.decode(Arrays.copyOfRange(ids, from, to));
    }
}
