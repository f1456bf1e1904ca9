package dev.cllm.data;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads a file line by line as raw bytes, remembering for each line its number, where it starts and ends, and
 * whether a {@code '\n'} terminated it (an unterminated last line may be torn by a crash). Holds one line in memory.
 */
final class LineReader implements Closeable {
    private final InputStream in;
    private final byte[] buffer = new byte[1 << 16];
    private int position;
    private int limit;
    private boolean eof;

    private byte[] line = new byte[1 << 12];
    private int length;
    private long number;
    private long start;
    private long end;
    private boolean terminated;

    LineReader(Path file) {
        try {
            this.in = Files.newInputStream(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Advances to the next line; false at the end of the file. The line excludes its {@code '\n'}. */
    boolean next() {
        start = end;
        length = 0;
        terminated = false;
        while (true) {
            if (position == limit && !fill()) {
                break;
            }
            int newline = -1;
            for (int i = position; i < limit; i++) {
                if (buffer[i] == '\n') {
                    newline = i;
                    break;
                }
            }
            int stop = newline < 0 ? limit : newline;
            append(stop - position);
            end += stop - position;
            position = stop;
            if (newline >= 0) {
                position++;
                end++;
                terminated = true;
                break;
            }
        }
        if (!terminated && length == 0) {
            return false;
        }
        number++;
        return true;
    }

    private void append(int count) {
        if (length + count > line.length) {
            line = Arrays.copyOf(line, Math.max(line.length * 2, length + count));
        }
        System.arraycopy(buffer, position, line, length, count);
        length += count;
    }

    private boolean fill() {
        if (eof) {
            return false;
        }
        try {
            int read = in.read(buffer);
            if (read < 0) {
                eof = true;
                return false;
            }
            position = 0;
            limit = read;
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The current line's bytes (valid until the next call), without the {@code '\n'}. */
    byte[] bytes() {
        return line;
    }

    int length() {
        return length;
    }

    /** The current line's 1-based number. */
    long number() {
        return number;
    }

    /** Offset of the current line's first byte. */
    long start() {
        return start;
    }

    /** Offset just after the current line, its {@code '\n'} included. */
    long end() {
        return end;
    }

    /** Whether a {@code '\n'} ended the current line (false only for a last line). */
    boolean terminated() {
        return terminated;
    }

    /** Whether the current line holds only spaces, tabs and carriage returns. */
    boolean blank() {
        for (int i = 0; i < length; i++) {
            byte b = line[i];
            if (b != ' ' && b != '\t' && b != '\r') {
                return false;
            }
        }
        return true;
    }

    /** The current line as UTF-8 text, a trailing carriage return removed. */
    String text() {
        int n = length > 0 && line[length - 1] == '\r' ? length - 1 : length;
        return new String(line, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
