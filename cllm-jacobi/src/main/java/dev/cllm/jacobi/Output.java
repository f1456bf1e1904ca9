package dev.cllm.jacobi;

import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The output of one generation as decoders accept it: the token sequence, the stop conditions (stop tokens, stop
 * strings, the token budget), the text, and delivery to the listener. Every decoder feeds it the tokens each pass
 * makes certain; it cuts them at the first stop token, decodes them incrementally (a short window per token, so
 * linear in the output), finds stop strings, and delivers tokens and text, holding back whatever could still be the
 * start of a stop string. One per generation; not thread-safe.
 */
final class Output {
    private final int promptLength;
    private final int maxNewTokens;
    private final Set<Integer> stopTokens;
    private final List<String> stopStrings;
    private final int longestStop;
    private final Tokenizer tokenizer;   // null: no text
    private final GenerationListener listener;
    private final boolean incremental;   // decode as tokens arrive (stop strings, text listeners); else once at the end

    private int[] sequence;          // prompt, then every accepted token (up to a stop)
    private int length;
    private StopReason stopReason;
    private int stopToken = -1;
    private String stopString;

    // text: the decoded output so far, and where each output token's text ends in it (-1 while incomplete)
    private final StringBuilder text = new StringBuilder();
    private int[] textEnd = new int[16];
    /**
     * The fewest pieces of text (tokens that decode to something) the decode window keeps before the new tokens:
     * decoders rewrite text across token boundaries (a word-level decoder turns {@code "x ' y"} into {@code "x 'y"}),
     * so one token of context is not enough, and tokens that decode to nothing are no context at all.
     */
    private static final int MIN_CONTEXT_PIECES = 4;
    private int prefixOffset;        // output-token index where the decode window starts
    private int readOffset;          // output-token index up to which text has been produced
    private int cutLength = -1;      // output tokens kept when a stop string cut the output; -1: no cut
    // delivery
    private int deliveredTokens;
    private int deliveredChars;

    Output(TokenIds prompt, int maxNewTokens, Set<Integer> stopTokens, List<String> stopStrings, Tokenizer tokenizer,
           GenerationListener listener) {
        this.promptLength = prompt.size();
        this.maxNewTokens = maxNewTokens;
        this.stopTokens = Set.copyOf(stopTokens);
        this.stopStrings = List.copyOf(stopStrings);
        this.longestStop = stopStrings.stream().mapToInt(String::length).max().orElse(0);
        if (tokenizer == null && !stopStrings.isEmpty()) {
            throw new IllegalArgumentException("stop strings need the model's tokenizer, and this model has none; "
                    + "use stop token ids instead");
        }
        this.tokenizer = tokenizer;
        this.listener = listener;
        this.incremental = tokenizer != null && (!stopStrings.isEmpty() || overridesOnText(listener));
        this.sequence = new int[promptLength + Math.min(maxNewTokens, 1 << 16)];
        prompt.copyTo(sequence, 0);
        this.length = promptLength;
    }

    /** Whether the listener's class has its own {@code onText} (else nobody reads the text before the end). */
    private static boolean overridesOnText(GenerationListener listener) {
        try {
            return listener.getClass().getMethod("onText", String.class).getDeclaringClass()
                    != GenerationListener.class;
        } catch (NoSuchMethodException e) {
            return true;
        }
    }

    /**
     * How many of the guesses {@code tokens[from, to)} a pass needs to run: up to and including the first stop token
     * among them, else all. The guesses after a guessed stop only matter if it is wrong, and then they were predicted
     * after a wrong stop; a decoder keeps them as they are until a later pass runs them. The output is the same either
     * way (every guess is verified); the passes near an answer's end get shorter.
     */
    int throughFirstStop(int[] tokens, int from, int to) {
        for (int i = from; i < to; i++) {
            if (stopTokens.contains(tokens[i])) {
                return i - from + 1;
            }
        }
        return to - from;
    }

    /** The prompt followed by the accepted tokens (read-only view: do not modify). */
    int[] sequence() {
        return sequence;
    }

    /** Valid entries of {@link #sequence()}. */
    int length() {
        return length;
    }

    int produced() {
        return length - promptLength;
    }

    /** Tokens still allowed by the budget. */
    int remaining() {
        return maxNewTokens - produced();
    }

    boolean stopped() {
        return stopReason != null;
    }

    StopReason stopReason() {
        return stopReason;
    }

    int stopToken() {
        return stopToken;
    }

    String stopString() {
        return stopString;
    }

    /** Ends the generation for a reason found outside the output (the budget, the context, a cancellation). */
    void stop(StopReason reason) {
        if (stopReason == null) {
            stopReason = reason;
        }
    }

    /**
     * Accepts the tokens one pass made certain, in order: appends them up to the first stop token (and the budget),
     * updates the text, checks the stop strings, and delivers what is safe.
     *
     * @return the number of tokens appended (those before a stop token; all of them otherwise)
     */
    int accept(int[] tokens) {
        if (stopReason != null) {
            return 0; // completing a block after a stop: nothing more is output
        }
        int count = 0;
        while (count < tokens.length && count < remaining() && !stopTokens.contains(tokens[count])) {
            count++;
        }
        if (count < tokens.length && count < remaining()) {
            stopReason = StopReason.STOP_TOKEN;
            stopToken = tokens[count];
        }
        if (length + count > sequence.length) {
            sequence = Arrays.copyOf(sequence, Math.max(sequence.length * 2, length + count));
        }
        System.arraycopy(tokens, 0, sequence, length, count);
        length += count;
        if (incremental) {
            for (int i = 0; i < count && cutLength < 0; i++) {
                appendText(produced() - count + i + 1);
            }
        }
        if (produced() >= maxNewTokens) {
            stop(StopReason.MAX_NEW_TOKENS);
        }
        deliver(stopReason != null);
        return count;
    }

    /** Ends the generation (with {@code reason} unless a stop was already found) and delivers everything held. */
    void finish(StopReason reason) {
        stop(reason);
        deliver(true);
    }

    /** The output tokens (cut before a stop string). */
    TokenIds ids() {
        int end = cutLength >= 0 ? cutLength : stopReason == StopReason.CANCELLED ? deliveredTokens : produced();
        return TokenIds.copyOf(sequence, promptLength, promptLength + end);
    }

    /** The output text (cut before a stop string), or null without a tokenizer. */
    String text() {
        if (tokenizer == null) {
            return null;
        }
        if (!incremental) {
            return tokenizer.decode(ids().toArray());
        }
        if (stopReason == StopReason.CANCELLED) {
            return text.substring(0, deliveredChars);
        }
        return text.toString();
    }

    // ------------------------------------------------------------------------------------------------- text

    /**
     * Extends the text by the output token {@code produced - 1} (the newest): decodes the window from the prefix
     * offset, and appends its new suffix once it does not end in an incomplete character (the incremental
     * detokenization of Hugging Face's and vLLM's streamers: linear in the output).
     */
    private void appendText(int produced) {
        if (textEnd.length < produced) {
            textEnd = Arrays.copyOf(textEnd, Math.max(textEnd.length * 2, produced));
        }
        textEnd[produced - 1] = -1;
        int base = promptLength;
        String before = decode(base + prefixOffset, base + readOffset);
        String after = decode(base + prefixOffset, base + produced);
        if (after.length() > before.length() && after.charAt(after.length() - 1) != '\uFFFD'
                && after.startsWith(before)) {
            int checkFrom = Math.max(0, text.length() - longestStop + 1);
            text.append(after, before.length(), after.length());
            for (int i = readOffset; i < produced; i++) {
                textEnd[i] = text.length();
            }
            readOffset = produced;
            prefixOffset = windowStart();
            findStopString(checkFrom);
        } else if (after.length() > before.length() && !after.startsWith(before)) {
            // a tokenizer whose window decode rewrote earlier text: restart the window here
            prefixOffset = readOffset;
        }
    }

    /**
     * Where the decode window starts so that it keeps {@link #MIN_CONTEXT_PIECES} pieces of text before the read
     * offset: a piece is the tokens that extended the text together (a token that decodes to nothing, such as a
     * special token, joins the next piece), so tokens without text never count as context.
     */
    private int windowStart() {
        int start = readOffset;
        for (int pieces = 0; start > 0 && pieces < MIN_CONTEXT_PIECES; pieces++) {
            int end = textEnd[start - 1];
            while (start > 0 && textEnd[start - 1] == end) {
                start--;
            }
        }
        return start;
    }

    private String decode(int from, int to) {
        return from >= to ? "" : tokenizer.decode(Arrays.copyOfRange(sequence, from, to));
    }

    private void findStopString(int from) {
        int best = -1;
        String found = null;
        for (String s : stopStrings) {
            int at = text.indexOf(s, from);
            if (at >= 0 && (best < 0 || at < best)) {
                best = at;
                found = s;
            }
        }
        if (found == null) {
            return;
        }
        stopReason = StopReason.STOP_STRING;
        stopToken = -1;
        stopString = found;
        text.setLength(best);
        int keep = 0;                                    // tokens whose text ends at or before the stop string
        while (keep < readOffset && textEnd[keep] >= 0 && textEnd[keep] <= best) {
            keep++;
        }
        cutLength = keep;
    }

    /** How much of the text could still turn into the start of a stop string: the longest such suffix. */
    private int heldChars() {
        if (longestStop == 0) {
            return 0;
        }
        int held = 0;
        String tail = text.substring(Math.max(0, text.length() - longestStop));
        for (String s : stopStrings) {
            for (int k = Math.min(s.length() - 1, tail.length()); k > held; k--) {
                if (tail.regionMatches(tail.length() - k, s, 0, k)) {
                    held = k;
                    break;
                }
            }
        }
        return held;
    }

    // --------------------------------------------------------------------------------------------- delivery

    private void deliver(boolean all) {
        if (stopReason == StopReason.CANCELLED) {
            return;
        }
        int tokenLimit;
        int charLimit;
        if (!incremental) {
            tokenLimit = produced();
            charLimit = 0;
        } else if (cutLength >= 0) {
            tokenLimit = cutLength;
            charLimit = text.length();
        } else if (all) {
            flushIncompleteText();
            tokenLimit = produced();
            charLimit = text.length();
        } else {
            charLimit = text.length() - heldChars();
            tokenLimit = deliveredTokens;
            if (stopStrings.isEmpty()) {
                tokenLimit = produced();
            } else {
                while (tokenLimit < produced() && textEnd[tokenLimit] >= 0 && textEnd[tokenLimit] <= charLimit) {
                    tokenLimit++;
                }
            }
        }
        boolean goOn = true;
        if (tokenLimit > deliveredTokens) {
            TokenIds tokens = TokenIds.copyOf(sequence, promptLength + deliveredTokens, promptLength + tokenLimit);
            deliveredTokens = tokenLimit;
            goOn = listener.onTokens(tokens);
        }
        if (charLimit > deliveredChars) {
            String piece = text.substring(deliveredChars, charLimit);
            deliveredChars = charLimit;
            goOn &= listener.onText(piece);
        }
        if (!goOn && stopReason == null) {
            stopReason = StopReason.CANCELLED;
        }
    }

    /** At the end, whatever the window holds (an incomplete last character included) becomes text. */
    private void flushIncompleteText() {
        if (readOffset < produced()) {
            int base = promptLength;
            String before = decode(base + prefixOffset, base + readOffset);
            String after = decode(base + prefixOffset, base + produced());
            if (after.length() > before.length() && after.startsWith(before)) {
                text.append(after, before.length(), after.length());
            }
            for (int i = readOffset; i < produced(); i++) {
                textEnd[i] = text.length();
            }
            readOffset = produced();
            prefixOffset = windowStart();
        }
    }
}
