package dev.cllm.data;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Appends {@link TrajectoryRecord}s to a file in our JSON Lines format, one record per line.
 *
 * <p>A line, with its fields in this order ({@code ?} marks the optional ones, left out when they hold their
 * default):
 * <pre>{@code
 * {"format_version":1,"prompt_index":7,"block":1,"prompt_length"?:5,"context_ids":[...],"states":[[...],...],
 *  "fixed_point":[...],"answer_ids"?:[...],"label_ids"?:[...],"complete_teacher_output_ids"?:[...],"augmented"?:true}
 * }</pre>
 * {@code prompt_length} defaults to the length of {@code context_ids} (so block 0 never writes it);
 * {@code fixed_point} repeats the last state, and readers check that it does; {@code answer_ids},
 * {@code label_ids} and {@code complete_teacher_output_ids} default to empty and {@code augmented} to false (see
 * {@link TrajectoryRecord}).
 *
 * <p>Records are serialized into memory and reach the file on {@link #flush()} in a single write call, so that a
 * crash leaves at most one torn line at the end (which {@link TrajectoryReader} drops). More than
 * {@value #AUTO_FLUSH_BYTES} buffered bytes are flushed early. Writes use a stream rather than a channel so that a
 * thread interrupt cannot close the file mid-write. Not thread-safe.
 */
public final class TrajectoryWriter implements AutoCloseable {
    static final int FORMAT_VERSION = 1;
    static final int AUTO_FLUSH_BYTES = 8 << 20;

    private final Path file;
    private final FileOutputStream out;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(1 << 16);
    private final JsonGenerator generator;
    private long size;
    private boolean closed;

    private TrajectoryWriter(Path file, boolean append) {
        this.file = file;
        try {
            this.out = new FileOutputStream(file.toFile(), append);
            this.size = append ? Files.size(file) : 0;
            this.generator = Json.FACTORY.createGenerator(buffer);
            generator.setRootValueSeparator(null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + " for writing", e);
        }
    }

    /** Opens {@code file} for appending, creating it if absent. The caller closes the writer. */
    public static TrajectoryWriter append(Path file) {
        return new TrajectoryWriter(file, true);
    }

    /** Creates {@code file}, or empties it if it exists. The caller closes the writer. */
    public static TrajectoryWriter create(Path file) {
        return new TrajectoryWriter(file, false);
    }

    /** Serializes one record into the buffer (see {@link #flush()}). */
    public void write(TrajectoryRecord record) {
        checkOpen();
        try {
            writeRecord(generator, record);
            generator.writeRaw('\n');
            generator.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (buffer.size() > AUTO_FLUSH_BYTES) {
            flush();
        }
    }

    /** Serializes several records into the buffer. */
    public void write(List<TrajectoryRecord> records) {
        for (TrajectoryRecord r : records) {
            write(r);
        }
    }

    /** Hands the buffered records to the operating system in one write call. */
    public void flush() {
        checkOpen();
        if (buffer.size() == 0) {
            return;
        }
        try {
            buffer.writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        size += buffer.size();
        buffer.reset();
    }

    /**
     * Flushes and then forces the file's content to the storage device ({@code fsync}, like
     * {@code FileChannel.force(true)}, but through the file descriptor, which an interrupt cannot close).
     */
    public void sync() {
        flush();
        try {
            out.getFD().sync();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot sync " + file, e);
        }
    }

    /** The file's length in bytes after the last flush (buffered records not counted). */
    public long size() {
        return size;
    }

    /** Flushes and closes. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            flush();
        } finally {
            closed = true;
            try {
                out.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close " + file, e);
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("writer of " + file + " is closed");
        }
    }

    /** One record as one JSON object, fields in the documented order. */
    static void writeRecord(JsonGenerator g, TrajectoryRecord record) throws IOException {
        Trajectory t = record.trajectory();
        g.writeStartObject();
        g.writeNumberField("format_version", FORMAT_VERSION);
        g.writeNumberField("prompt_index", t.promptIndex());
        g.writeNumberField("block", t.block());
        if (record.promptLength() != t.context().size()) {
            g.writeNumberField("prompt_length", record.promptLength());
        }
        g.writeFieldName("context_ids");
        Json.writeIds(g, t.context());
        g.writeFieldName("states");
        g.writeStartArray();
        for (TokenIds state : t.states()) {
            Json.writeIds(g, state);
        }
        g.writeEndArray();
        g.writeFieldName("fixed_point");
        Json.writeIds(g, t.fixedPoint());
        writeIfPresent(g, "answer_ids", t.answer());
        writeIfPresent(g, "label_ids", record.labels());
        writeIfPresent(g, "complete_teacher_output_ids", record.completeTeacherOutput());
        if (record.augmented()) {
            g.writeBooleanField("augmented", true);
        }
        g.writeEndObject();
    }

    private static void writeIfPresent(JsonGenerator g, String field, TokenIds ids) throws IOException {
        if (!ids.isEmpty()) {
            g.writeFieldName(field);
            Json.writeIds(g, ids);
        }
    }
}
