package dev.cllm.data;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The progress sidecar of a collection ({@code OUT.jsonl.progress}): one line per finished prompt, appended after
 * the prompt's records are in the data file, so its last complete line says how far the data file is valid.
 *
 * <pre>{@code
 * {"prompt_index":7,"records":12,"dropped_repetitive":1,"dropped_token_run":1,"dropped_repeated_ngram":0,
 *  "augmented":4,"skipped":false,"tokens":129,"passes":97,"bytes":48213}
 * }</pre>
 * {@code records} counts the lines written (augmented ones included); {@code bytes} is the data file's length after
 * the prompt.
 */
final class Progress {
    private static final Logger log = LoggerFactory.getLogger(Progress.class);

    private Progress() {
    }

    /** What one prompt gave. */
    record Entry(long promptIndex, int records, int droppedTokenRun, int droppedRepeatedNgram, int augmented,
                 boolean skipped, long tokens, long passes, long bytes) {
        Entry {
            if (promptIndex < 0 || records < 0 || droppedTokenRun < 0 || droppedRepeatedNgram < 0 || augmented < 0
                    || augmented > records || tokens < 0 || passes < 0 || bytes < 0) {
                throw new IllegalArgumentException("negative or inconsistent count in " + this);
            }
        }

        int droppedRepetitive() {
            return droppedTokenRun + droppedRepeatedNgram;
        }
    }

    /** Sums over entries, and where the last one leaves the data file. */
    static final class Totals {
        long prompts;
        long records;
        long skipped;
        long droppedTokenRun;
        long droppedRepeatedNgram;
        long augmented;
        long tokens;
        long passes;
        long dataBytes;

        void add(Entry e) {
            prompts++;
            records += e.records();
            skipped += e.skipped() ? 1 : 0;
            droppedTokenRun += e.droppedTokenRun();
            droppedRepeatedNgram += e.droppedRepeatedNgram();
            augmented += e.augmented();
            tokens += e.tokens();
            passes += e.passes();
            dataBytes = e.bytes();
        }

        double tokensPerPass() {
            return passes == 0 ? 0.0 : (double) tokens / passes;
        }
    }

    /** Checks the n-th entry (0-based) of the file against the prompt the job expects there. */
    @FunctionalInterface
    interface EntryCheck {
        void check(long n, Entry entry, long line);
    }

    /**
     * Reads the entries of {@code file} (absent: none) into {@code totals}. A torn last line (no newline at the end)
     * is dropped with a warning and cut off the file, so that appending goes on after the last complete line.
     *
     * @return whether a torn line was dropped
     */
    static boolean load(Path file, Totals totals, EntryCheck check) {
        if (!Files.exists(file)) {
            return false;
        }
        long valid = 0;
        boolean torn = false;
        try (LineReader lines = new LineReader(file)) {
            while (lines.next()) {
                if (!lines.terminated()) {
                    torn = true;
                    log.warn("{}:{}: dropped a torn last line of {} bytes (an interrupted write)", file,
                            lines.number(), lines.length());
                    break;
                }
                Entry e = parse(file, lines.number(), lines.bytes(), lines.length());
                check.check(totals.prompts, e, lines.number());
                if (e.bytes() < totals.dataBytes) {
                    throw new TrajectoryFormatException(file, lines.number(), "bytes " + e.bytes()
                            + " is less than the previous line's " + totals.dataBytes);
                }
                totals.add(e);
                valid = lines.end();
            }
        }
        if (torn) {
            truncate(file, valid);
        }
        return torn;
    }

    private static Entry parse(Path file, long line, byte[] bytes, int length) {
        try {
            JsonNode n = Json.LINE.readTree(bytes, 0, length);
            if (n == null || !n.isObject()) {
                throw new TrajectoryFormatException(file, line, "a progress line must be a JSON object");
            }
            Entry e = new Entry(number(file, line, n, "prompt_index"), count(file, line, n, "records"),
                    count(file, line, n, "dropped_token_run"), count(file, line, n, "dropped_repeated_ngram"),
                    count(file, line, n, "augmented"), bool(file, line, n, "skipped"), number(file, line, n, "tokens"),
                    number(file, line, n, "passes"), number(file, line, n, "bytes"));
            if (number(file, line, n, "dropped_repetitive") != e.droppedRepetitive()) {
                throw new TrajectoryFormatException(file, line, "dropped_repetitive is not dropped_token_run + "
                        + "dropped_repeated_ngram");
            }
            return e;
        } catch (JsonProcessingException e) {
            throw new TrajectoryFormatException(file, line, "not valid JSON: " + Json.syntaxMessage(e));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (IllegalArgumentException e) {
            throw new TrajectoryFormatException(file, line, e.getMessage());
        }
    }

    private static long number(Path file, long line, JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
            throw new TrajectoryFormatException(file, line, "field '" + field + "' must be a non-negative integer, "
                    + "got " + (v == null ? "nothing" : v));
        }
        return v.longValue();
    }

    private static int count(Path file, long line, JsonNode n, String field) {
        long v = number(file, line, n, field);
        if (v > Integer.MAX_VALUE) {
            throw new TrajectoryFormatException(file, line, "field '" + field + "' is too large: " + v);
        }
        return (int) v;
    }

    private static boolean bool(Path file, long line, JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isBoolean()) {
            throw new TrajectoryFormatException(file, line, "field '" + field + "' must be true or false, got "
                    + (v == null ? "nothing" : v));
        }
        return v.booleanValue();
    }

    /** Cuts {@code file} to {@code length} bytes. */
    static void truncate(Path file, long length) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(length);
            ch.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot truncate " + file, e);
        }
    }

    /** Appends entries, each line in one write call. */
    static final class Appender implements AutoCloseable {
        private final Path file;
        private final FileOutputStream out;
        private final boolean fsync;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);

        Appender(Path file, boolean fsync) {
            this.file = file;
            this.fsync = fsync;
            try {
                this.out = new FileOutputStream(file.toFile(), true);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open " + file, e);
            }
        }

        void append(Entry e) {
            line.reset();
            try (JsonGenerator g = Json.FACTORY.createGenerator(line)) {
                g.writeStartObject();
                g.writeNumberField("prompt_index", e.promptIndex());
                g.writeNumberField("records", e.records());
                g.writeNumberField("dropped_repetitive", e.droppedRepetitive());
                g.writeNumberField("dropped_token_run", e.droppedTokenRun());
                g.writeNumberField("dropped_repeated_ngram", e.droppedRepeatedNgram());
                g.writeNumberField("augmented", e.augmented());
                g.writeBooleanField("skipped", e.skipped());
                g.writeNumberField("tokens", e.tokens());
                g.writeNumberField("passes", e.passes());
                g.writeNumberField("bytes", e.bytes());
                g.writeEndObject();
                g.writeRaw('\n');
            } catch (IOException ex) {
                throw new UncheckedIOException(ex);
            }
            try {
                line.writeTo(out);
                if (fsync) {
                    out.getFD().sync();
                }
            } catch (IOException ex) {
                throw new UncheckedIOException("cannot append to " + file, ex);
            }
        }

        @Override
        public void close() {
            try {
                out.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close " + file, e);
            }
        }
    }
}
