package dev.cllm.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Streams the {@link TrajectoryRecord}s of a file in our JSON Lines format (see {@link TrajectoryWriter}), one line
 * in memory at a time.
 *
 * <p>Every line must hold one valid record: a line that is not JSON, misses a required field, has a field of the
 * wrong type, an unknown field, an unknown {@code format_version}, states of unequal length or a
 * {@code fixed_point} other than the last state throws {@link TrajectoryFormatException} naming the file and line.
 * Blank lines are errors too: the writer never writes one, so one means the file was edited or damaged.
 *
 * <p>The one exception is a <b>torn last line</b>: if the file does not end in {@code '\n'} and its last line is not
 * complete JSON, a crash interrupted the write; the line is dropped with a warning and reported by
 * {@link #droppedTornLine()}, never returned. An unterminated last line that is complete JSON is read normally.
 *
 * <p>The caller closes the reader. Not thread-safe.
 */
public final class TrajectoryReader implements Iterator<TrajectoryRecord>, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TrajectoryReader.class);

    private final Path file;
    private final LineReader lines;
    private TrajectoryRecord next;
    private boolean done;
    private boolean droppedTornLine;

    private TrajectoryReader(Path file) {
        this.file = file;
        this.lines = new LineReader(file);
    }

    /** Opens {@code file} for reading. The caller closes the reader. */
    public static TrajectoryReader open(Path file) {
        return new TrajectoryReader(file);
    }

    /** Reads every record of {@code file} into memory: for tests and small files. */
    public static List<TrajectoryRecord> readAll(Path file) {
        try (TrajectoryReader reader = open(file)) {
            List<TrajectoryRecord> out = new ArrayList<>();
            reader.forEachRemaining(out::add);
            return out;
        }
    }

    @Override
    public boolean hasNext() {
        if (next == null && !done) {
            next = advance();
            done = next == null;
        }
        return next != null;
    }

    @Override
    public TrajectoryRecord next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more records in " + file);
        }
        TrajectoryRecord r = next;
        next = null;
        return r;
    }

    /** Whether a torn last line was dropped; known once the iteration has ended. */
    public boolean droppedTornLine() {
        return droppedTornLine;
    }

    @Override
    public void close() {
        lines.close();
    }

    private TrajectoryRecord advance() {
        if (!lines.next()) {
            return null;
        }
        long line = lines.number();
        if (lines.blank()) {
            throw new TrajectoryFormatException(file, line, "blank line (every line must hold one record)");
        }
        try {
            return parse(lines.bytes(), lines.length());
        } catch (JsonProcessingException | Json.SchemaException | IllegalArgumentException e) {
            if (!lines.terminated() && !Json.isCompleteValue(lines.bytes(), lines.length())) {
                droppedTornLine = true;
                log.warn("{}:{}: dropped a torn last line of {} bytes (the file does not end in a newline; a write "
                        + "was interrupted)", file, line, lines.length());
                return null;
            }
            String what = e instanceof JsonProcessingException j ? "not valid JSON: " + Json.syntaxMessage(j)
                    : e.getMessage();
            throw new TrajectoryFormatException(file, line, what);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses one line; throws SchemaException or IllegalArgumentException (from the records) for bad content. */
    static TrajectoryRecord parse(byte[] bytes, int length) throws IOException {
        try (JsonParser p = Json.FACTORY.createParser(bytes, 0, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new Json.SchemaException("a record must be a JSON object, got " + Json.describe(p));
            }
            Integer version = null;
            Long promptIndex = null;
            Integer block = null;
            Integer promptLength = null;
            TokenIds context = null;
            List<TokenIds> states = null;
            TokenIds fixedPoint = null;
            TokenIds answer = TokenIds.empty();
            TokenIds labels = TokenIds.empty();
            TokenIds complete = TokenIds.empty();
            boolean augmented = false;
            String field;
            while ((field = p.nextFieldName()) != null) {
                p.nextToken();
                switch (field) {
                    case "format_version" -> version = intField(p, field, 0);
                    case "prompt_index" -> promptIndex = longField(p, field);
                    case "block" -> block = intField(p, field, 0);
                    case "prompt_length" -> promptLength = intField(p, field, 1);
                    case "context_ids" -> context = Json.readIds(p, field);
                    case "states" -> states = readStates(p);
                    case "fixed_point" -> fixedPoint = Json.readIds(p, field);
                    case "answer_ids" -> answer = Json.readIds(p, field);
                    case "label_ids" -> labels = Json.readIds(p, field);
                    case "complete_teacher_output_ids" -> complete = Json.readIds(p, field);
                    case "augmented" -> augmented = booleanField(p, field);
                    default -> throw new Json.SchemaException("unknown field '" + field + "'");
                }
                if (field.equals("format_version") && version != TrajectoryWriter.FORMAT_VERSION) {
                    throw new Json.SchemaException("unknown format_version " + version + " (this reader knows "
                            + TrajectoryWriter.FORMAT_VERSION + ")");
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT) {
                throw new Json.SchemaException("expected a field name, got " + Json.describe(p));
            }
            if (p.nextToken() != null) {
                throw new Json.SchemaException("more than one JSON value on the line");
            }
            require(version, "format_version");
            require(promptIndex, "prompt_index");
            require(block, "block");
            require(context, "context_ids");
            require(states, "states");
            require(fixedPoint, "fixed_point");
            if (states.isEmpty()) {
                throw new Json.SchemaException("field 'states' is empty (a trajectory ends at its fixed point)");
            }
            if (!fixedPoint.equals(states.get(states.size() - 1))) {
                throw new Json.SchemaException("field 'fixed_point' " + fixedPoint + " differs from the last state "
                        + states.get(states.size() - 1));
            }
            Trajectory t = new Trajectory(promptIndex, block, context, states, answer);
            return new TrajectoryRecord(t, promptLength == null ? context.size() : promptLength, labels, complete,
                    augmented);
        }
    }

    private static List<TokenIds> readStates(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new Json.SchemaException("field 'states' must be an array of states, got " + Json.describe(p));
        }
        List<TokenIds> states = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            TokenIds s = Json.readIds(p, "states[" + states.size() + "]");
            if (!states.isEmpty() && s.size() != states.get(0).size()) {
                throw new Json.SchemaException("field 'states': state " + states.size() + " has " + s.size()
                        + " tokens, state 0 has " + states.get(0).size());
            }
            states.add(s);
        }
        return states;
    }

    private static int intField(JsonParser p, String field, int min) throws IOException {
        if (p.currentToken() != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT
                || p.getIntValue() < min) {
            throw new Json.SchemaException("field '" + field + "' must be an integer >= " + min + ", got "
                    + Json.describe(p));
        }
        return p.getIntValue();
    }

    private static long longField(JsonParser p, String field) throws IOException {
        if (p.currentToken() != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                || p.getLongValue() < 0) {
            throw new Json.SchemaException("field '" + field + "' must be an integer >= 0, got " + Json.describe(p));
        }
        return p.getLongValue();
    }

    private static boolean booleanField(JsonParser p, String field) throws IOException {
        if (!p.currentToken().isBoolean()) {
            throw new Json.SchemaException("field '" + field + "' must be true or false, got " + Json.describe(p));
        }
        return p.getBooleanValue();
    }

    private static void require(Object value, String field) {
        if (value == null) {
            throw new Json.SchemaException("missing field '" + field + "'");
        }
    }
}
