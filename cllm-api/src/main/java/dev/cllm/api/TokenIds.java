package dev.cllm.api;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * An immutable sequence of token ids.
 *
 * <p>Used wherever ids cross an API boundary or sit inside a value type, so that records keep value equality
 * (an {@code int[]} component would compare by identity) and nobody can mutate a result after the fact.
 */
public final class TokenIds {
    private static final TokenIds EMPTY = new TokenIds(new int[0]);

    private final int[] ids;

    private TokenIds(int[] ids) {
        this.ids = ids;
    }

    /** The empty sequence. */
    public static TokenIds empty() {
        return EMPTY;
    }

    /** A sequence holding a copy of {@code ids}. */
    public static TokenIds of(int... ids) {
        return ids.length == 0 ? EMPTY : new TokenIds(ids.clone());
    }

    /** A sequence holding a copy of {@code ids[from, to)}. */
    public static TokenIds copyOf(int[] ids, int from, int to) {
        return from == to ? EMPTY : new TokenIds(Arrays.copyOfRange(ids, from, to));
    }

    /**
     * Parses a comma-separated list such as {@code "1, 404,475"}.
     *
     * @throws IllegalArgumentException naming the first item that is not a non-negative integer
     */
    public static TokenIds parse(String csv) {
        String trimmed = csv.strip();
        if (trimmed.isEmpty()) {
            return EMPTY;
        }
        String[] parts = trimmed.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            try {
                out[i] = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("token id #" + i + " is not an integer: '" + p + "'");
            }
            if (out[i] < 0) {
                throw new IllegalArgumentException("token id #" + i + " is negative: " + out[i]);
            }
        }
        return new TokenIds(out);
    }

    public int size() {
        return ids.length;
    }

    public boolean isEmpty() {
        return ids.length == 0;
    }

    public int get(int index) {
        return ids[index];
    }

    /** The last id. @throws IllegalStateException when empty */
    public int last() {
        if (ids.length == 0) {
            throw new IllegalStateException("empty token sequence has no last token");
        }
        return ids[ids.length - 1];
    }

    /** A fresh copy of the ids. */
    public int[] toArray() {
        return ids.clone();
    }

    /** Copies the ids into {@code dst} starting at {@code offset}. */
    public void copyTo(int[] dst, int offset) {
        System.arraycopy(ids, 0, dst, offset, ids.length);
    }

    public TokenIds subSequence(int from, int to) {
        if (from == 0 && to == ids.length) {
            return this;
        }
        return copyOf(ids, from, to);
    }

    public TokenIds concat(TokenIds other) {
        if (other.isEmpty()) {
            return this;
        }
        if (isEmpty()) {
            return other;
        }
        int[] out = Arrays.copyOf(ids, ids.length + other.ids.length);
        System.arraycopy(other.ids, 0, out, ids.length, other.ids.length);
        return new TokenIds(out);
    }

    public IntStream stream() {
        return Arrays.stream(ids);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenIds other && Arrays.equals(ids, other.ids);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ids);
    }

    /** {@code [1, 2, 3]}. */
    @Override
    public String toString() {
        return Arrays.toString(ids);
    }
}
