package dev.cllm.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * A file of prompts to collect trajectories for, one prompt per line.
 *
 * <p>A line whose first non-blank character is <code>{</code> is a JSON object with the prompt as token ids or as
 * text, and optionally the ground-truth answer the same way:
 * <pre>{@code
 * {"prompt_ids": [1, 404, 475], "answer_ids": [464, 454]}
 * {"prompt": "Question:\nWhat is 2 + 3?\nAnswer:\n", "answer": "5"}
 * }</pre>
 * Any other line is the prompt's text, as is (a trailing carriage return removed). Text prompts are encoded with
 * {@link Tokenizer#encode} (which adds BOS), text answers with {@link Tokenizer#encodeWithoutSpecialTokens}, so a text
 * line needs a tokenizer. Unknown JSON fields are errors, so that a misspelt {@code answer} is not silently dropped.
 * Blank lines are skipped; a prompt's index is its ordinal among the non-blank lines (0-based). Token ids are only
 * checked to be non-negative ints here; the model checks them against its vocabulary.
 *
 * <p>Reading streams the file; nothing but the prompts asked for is kept. Immutable; reads the file on every call.
 */
public final class PromptFile {
    private final Path path;
    private final Tokenizer tokenizer; // null: token-id lines only

    private PromptFile(Path path, Tokenizer tokenizer) {
        this.path = Objects.requireNonNull(path, "path");
        this.tokenizer = tokenizer;
    }

    /** A file whose prompts are token ids (a text line is an error). */
    public static PromptFile of(Path path) {
        return new PromptFile(path, null);
    }

    /** A file whose text prompts and answers {@code tokenizer} encodes. */
    public static PromptFile of(Path path, Tokenizer tokenizer) {
        return new PromptFile(path, Objects.requireNonNull(tokenizer, "tokenizer"));
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /** The number of prompts (non-blank lines), without parsing them. */
    public long count() {
        long count = 0;
        try (LineReader lines = new LineReader(path)) {
            while (lines.next()) {
                if (!lines.blank()) {
                    count++;
                }
            }
        }
        return count;
    }

    /**
     * Every prompt of the file, in order.
     *
     * @throws PromptFormatException naming the file and line of the first malformed line
     */
    public List<Prompt> read() {
        List<Prompt> out = new ArrayList<>();
        try (Cursor c = open(0, Long.MAX_VALUE)) {
            c.forEachRemaining(out::add);
        }
        return out;
    }

    /** The SHA-256 of the file's bytes, in lowercase hex. */
    public String sha256() {
        try (InputStream in = Files.newInputStream(path)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The prompts with index in {@code [from, to)}; lines before {@code from} are counted, not parsed. */
    Cursor open(long from, long to) {
        return new Cursor(from, to);
    }

    @Override
    public String toString() {
        return path.toString();
    }

    /** Streams a range of prompts. The caller closes it. */
    final class Cursor implements Iterator<Prompt>, AutoCloseable {
        private final LineReader lines = new LineReader(path);
        private final long from;
        private final long to;
        private long index = -1;
        private Prompt next;

        Cursor(long from, long to) {
            this.from = from;
            this.to = to;
        }

        @Override
        public boolean hasNext() {
            while (next == null && index + 1 < to && lines.next()) {
                if (lines.blank()) {
                    continue;
                }
                index++;
                if (index >= from) {
                    next = parse(index, lines.number(), lines.text());
                }
            }
            return next != null;
        }

        @Override
        public Prompt next() {
            if (!hasNext()) {
                throw new NoSuchElementException("no more prompts in " + path);
            }
            Prompt p = next;
            next = null;
            return p;
        }

        @Override
        public void close() {
            lines.close();
        }
    }

    private Prompt parse(long index, long line, String text) {
        if (!text.stripLeading().startsWith("{")) {
            return new Prompt(index, encode(text, line, "a text prompt"), TokenIds.empty());
        }
        JsonNode node;
        try {
            node = Json.LINE.readTree(text);
        } catch (JsonProcessingException e) {
            throw new PromptFormatException(path, line, "not valid JSON: " + Json.syntaxMessage(e));
        }
        if (!node.isObject()) {
            throw new PromptFormatException(path, line, "a line starting with '{' must be a JSON object");
        }
        node.fieldNames().forEachRemaining(f -> {
            if (!List.of("prompt", "prompt_ids", "answer", "answer_ids").contains(f)) {
                throw new PromptFormatException(path, line, "unknown field '" + f
                        + "' (known: prompt or prompt_ids, answer or answer_ids)");
            }
        });
        TokenIds ids = oneOf(node, line, "prompt", "prompt_ids", true);
        if (ids.isEmpty()) {
            throw new PromptFormatException(path, line, "the prompt is empty");
        }
        return new Prompt(index, ids, oneOf(node, line, "answer", "answer_ids", false));
    }

    /** The ids of either the text field or the ids field (not both). */
    private TokenIds oneOf(JsonNode node, long line, String textField, String idsField, boolean required) {
        JsonNode text = node.get(textField);
        JsonNode ids = node.get(idsField);
        if (text != null && ids != null) {
            throw new PromptFormatException(path, line, "both '" + textField + "' and '" + idsField + "' given");
        }
        if (text != null) {
            if (!text.isTextual()) {
                throw new PromptFormatException(path, line, "field '" + textField + "' must be a string, got "
                        + Json.abbreviate(text.toString()));
            }
            return textField.equals("prompt") ? encode(text.textValue(), line, "field 'prompt'")
                    : encodeAnswer(text.textValue(), line);
        }
        if (ids != null) {
            return tokenIds(ids, line, idsField);
        }
        if (required) {
            throw new PromptFormatException(path, line, "missing field '" + textField + "' or '" + idsField + "'");
        }
        return TokenIds.empty();
    }

    private TokenIds tokenIds(JsonNode array, long line, String field) {
        if (!array.isArray()) {
            throw new PromptFormatException(path, line, "field '" + field + "' must be an array of token ids, got "
                    + Json.abbreviate(array.toString()));
        }
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode e = array.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0) {
                throw new PromptFormatException(path, line, "field '" + field + "' element " + i
                        + " is not a token id: " + Json.abbreviate(e.toString()));
            }
            out[i] = e.intValue();
        }
        return TokenIds.of(out);
    }

    private TokenIds encode(String text, long line, String what) {
        if (tokenizer == null) {
            throw new PromptFormatException(path, line, what + " needs a tokenizer, and none was given (the model "
                    + "has none?); give token ids as {\"prompt_ids\": [...]} instead");
        }
        TokenIds ids = TokenIds.of(tokenizer.encode(text));
        if (ids.isEmpty()) {
            throw new PromptFormatException(path, line, what + " encodes to no tokens");
        }
        return ids;
    }

    private TokenIds encodeAnswer(String text, long line) {
        if (tokenizer == null) {
            throw new PromptFormatException(path, line, "field 'answer' needs a tokenizer, and none was given; give "
                    + "token ids as \"answer_ids\" instead");
        }
        return TokenIds.of(tokenizer.encodeWithoutSpecialTokens(text));
    }
}
