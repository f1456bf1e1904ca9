package dev.cllm.data;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Imports and exports the trajectory files of the CLLM authors' code (hao-ai-lab/Consistency_LLM,
 * {@code data/generate_trajectory.py} and {@code cllm/utils.py}).
 *
 * <p>Their file is a JSON array of objects, one per (prompt, block):
 * <pre>{@code
 * {"data_id": "data_3", "jacobian_itr_id": "itr_1", "prompt_ids_len": [5], "prompt_ids": [[...context...]],
 *  "answer_trajectory_ids": [[...], ..., [...fixed point...]], "labels_ids": [[...prompt + answer...]],
 *  "teacher_output_ids": [[...context + fixed point...]], "complete_teacher_output_ids": [...]}
 * }</pre>
 * {@code labels_ids} is optional; {@code complete_teacher_output_ids} (the teacher output of the prompt's last
 * block) is present in cleaned files, and their trainer requires it. On import, id arrays may be flat or nested in
 * single-element arrays (their batch dimension), and the file may also be JSON Lines; {@code teacher_output_ids}
 * must equal {@code prompt_ids} followed by the last state. Unknown keys are ignored, except {@code augmented}, which
 * our export adds to records synthesized by {@link Augmenter}.
 *
 * <p>Mapping to {@link TrajectoryRecord}: {@code data_{i}} is prompt i, {@code itr_{k}} block k, {@code prompt_ids}
 * the context, {@code prompt_ids_len} the prompt length. Labels that are the prompt followed by more tokens become the
 * trajectory's answer; other labels are kept verbatim. A {@code complete_teacher_output_ids} equal to the teacher
 * output of the last block (highest {@code itr}) among the consecutive records of the same prompt is dropped, and
 * any other kept. Export inverts all of this, so ours → authors → ours is the identity, and so is authors → ours →
 * authors up to the nesting depth of the arrays (export writes the authors' usual nesting shown above) and except
 * that export adds {@code complete_teacher_output_ids} where it was absent.
 *
 * <p>Both directions stream: memory holds one element (and one prompt's records while exporting).
 */
public final class AuthorsFormat {
    private static final Pattern DATA_ID = Pattern.compile("data_(0|[1-9][0-9]{0,17})");
    private static final Pattern ITR_ID = Pattern.compile("itr_(0|[1-9][0-9]{0,8})");

    private AuthorsFormat() {
    }

    /**
     * Reads an authors' file (a JSON array, or JSON Lines) and passes each record to {@code sink}, in file order.
     *
     * @return the number of records
     * @throws TrajectoryFormatException naming the file, the array element or line, and the data_id
     */
    public static long read(Path file, Consumer<TrajectoryRecord> sink) {
        Grouper grouper = new Grouper(sink);
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            int first = firstNonWhitespace(in);
            if (first == '[') {
                readArray(file, in, grouper);
            } else if (first == '{') {
                readLines(file, grouper);
            } else if (first >= 0) {
                throw new TrajectoryFormatException(file, 1, "neither a JSON array nor JSON Lines (starts with '"
                        + (char) first + "')");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        grouper.finish();
        return grouper.count;
    }

    /** Converts an authors' file into a new file of ours (replacing it). Returns the number of records. */
    public static long importFile(Path authorsFile, Path ourFile) {
        try (TrajectoryWriter writer = TrajectoryWriter.create(ourFile)) {
            return read(authorsFile, writer::write);
        }
    }

    /** Converts a file of ours into a new authors' file (replacing it). Returns the number of records. */
    public static long exportFile(Path ourFile, Path authorsFile) {
        try (TrajectoryReader reader = TrajectoryReader.open(ourFile)) {
            return write(reader, authorsFile);
        }
    }

    /**
     * Writes {@code records} as an authors' JSON array, one element per line.
     *
     * @return the number of records
     */
    public static long write(Iterator<TrajectoryRecord> records, Path file) {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16);
             JsonGenerator g = Json.FACTORY.createGenerator(out)) {
            g.writeRaw('[');
            long count = 0;
            List<TrajectoryRecord> group = new ArrayList<>();
            while (records.hasNext()) {
                TrajectoryRecord r = records.next();
                if (!group.isEmpty() && group.get(0).trajectory().promptIndex() != r.trajectory().promptIndex()) {
                    count = writeGroup(g, group, count);
                    group.clear();
                }
                group.add(r);
            }
            count = writeGroup(g, group, count);
            g.writeRaw(count == 0 ? "]\n" : "\n]\n");
            return count;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static long writeGroup(JsonGenerator g, List<TrajectoryRecord> group, long count) throws IOException {
        if (group.isEmpty()) {
            return count;
        }
        TokenIds derived = lastTeacherOutput(group.stream().map(TrajectoryRecord::trajectory).toList());
        for (TrajectoryRecord r : group) {
            g.writeRaw(count == 0 ? "\n" : ",\n");
            writeElement(g, r, r.completeTeacherOutput().isEmpty() ? derived : r.completeTeacherOutput());
            g.flush();
            count++;
        }
        return count;
    }

    private static void writeElement(JsonGenerator g, TrajectoryRecord r, TokenIds complete) throws IOException {
        Trajectory t = r.trajectory();
        g.writeStartObject();
        g.writeStringField("data_id", "data_" + t.promptIndex());
        g.writeStringField("jacobian_itr_id", "itr_" + t.block());
        g.writeFieldName("prompt_ids_len");
        g.writeArray(new int[] {r.promptLength()}, 0, 1);
        g.writeFieldName("prompt_ids");
        writeNested(g, t.context());
        g.writeFieldName("answer_trajectory_ids");
        g.writeStartArray();
        for (TokenIds state : t.states()) {
            Json.writeIds(g, state);
        }
        g.writeEndArray();
        TokenIds labels = r.fullLabels();
        if (!labels.isEmpty()) {
            g.writeFieldName("labels_ids");
            writeNested(g, labels);
        }
        g.writeFieldName("teacher_output_ids");
        writeNested(g, t.teacherOutput());
        g.writeFieldName("complete_teacher_output_ids");
        Json.writeIds(g, complete);
        if (r.augmented()) {
            g.writeBooleanField("augmented", true);
        }
        g.writeEndObject();
    }

    /** {@code [[ids]]}: the authors' batch dimension of one. */
    private static void writeNested(JsonGenerator g, TokenIds ids) throws IOException {
        g.writeStartArray();
        Json.writeIds(g, ids);
        g.writeEndArray();
    }

    /** The teacher output of the last block (highest index; the later one among equals) of one prompt's records. */
    private static TokenIds lastTeacherOutput(List<Trajectory> group) {
        Trajectory last = group.get(0);
        for (Trajectory t : group) {
            if (t.block() >= last.block()) {
                last = t;
            }
        }
        return last.teacherOutput();
    }

    // ---- import ----

    private static void readArray(Path file, InputStream in, Grouper grouper) throws IOException {
        long element = 0;
        try (JsonParser p = Json.FACTORY.createParser(in)) {
            p.nextToken(); // [
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t == null) {
                    throw new TrajectoryFormatException(file, p.currentLocation().getLineNr(),
                            "the JSON array is not closed");
                }
                String where = "element " + element;
                if (t != JsonToken.START_OBJECT) {
                    throw new TrajectoryFormatException(file, where, "must be an object, got " + Json.describe(p));
                }
                JsonNode node = Json.MAPPER.readTree(p);
                grouper.add(convert(node, file, where));
                element++;
            }
            if (p.nextToken() != null) {
                throw new TrajectoryFormatException(file, p.currentLocation().getLineNr(),
                        "content after the JSON array");
            }
        } catch (JsonProcessingException e) {
            throw new TrajectoryFormatException(file, e.getLocation() == null ? -1 : e.getLocation().getLineNr(),
                    "not valid JSON (in element " + element + "): " + Json.syntaxMessage(e));
        }
    }

    private static void readLines(Path file, Grouper grouper) throws IOException {
        try (LineReader lines = new LineReader(file)) {
            while (lines.next()) {
                if (lines.blank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = Json.LINE.readTree(lines.bytes(), 0, lines.length());
                } catch (JsonProcessingException e) {
                    throw new TrajectoryFormatException(file, lines.number(), "not valid JSON: "
                            + Json.syntaxMessage(e));
                }
                if (!node.isObject()) {
                    throw new TrajectoryFormatException(file, lines.number(), "a line must hold a JSON object");
                }
                grouper.add(convert(node, file, "line " + lines.number()));
            }
        }
    }

    /** The first byte after an optional UTF-8 byte order mark and whitespace, or -1; the stream is reset. */
    private static int firstNonWhitespace(InputStream in) throws IOException {
        in.mark(1 << 16);
        int b = in.read();
        if (b == 0xEF && in.read() == 0xBB && in.read() == 0xBF) {
            b = in.read();
        }
        while (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
            b = in.read();
        }
        in.reset();
        return b;
    }

    /** One imported element before its prompt's complete teacher output is known. */
    private record Pending(TrajectoryRecord record, TokenIds complete) {
    }

    /** Buffers the consecutive records of one prompt to compare their complete teacher output with the derived one. */
    private static final class Grouper {
        private final Consumer<TrajectoryRecord> sink;
        private final List<Pending> group = new ArrayList<>();
        private long count;

        Grouper(Consumer<TrajectoryRecord> sink) {
            this.sink = sink;
        }

        void add(Pending p) {
            if (!group.isEmpty() && group.get(0).record.trajectory().promptIndex()
                    != p.record.trajectory().promptIndex()) {
                finish();
            }
            group.add(p);
        }

        void finish() {
            if (group.isEmpty()) {
                return;
            }
            TokenIds derived = lastTeacherOutput(group.stream().map(p -> p.record.trajectory()).toList());
            for (Pending p : group) {
                boolean keep = p.complete != null && !p.complete.equals(derived);
                sink.accept(keep ? p.record.withCompleteTeacherOutput(p.complete) : p.record);
                count++;
            }
            group.clear();
        }
    }

    private static Pending convert(JsonNode node, Path file, String where) {
        JsonNode idNode = node.get("data_id");
        String dataId = idNode != null && idNode.isTextual() ? idNode.textValue() : null;
        String location = where + (dataId == null ? "" : " (data_id " + dataId + ")");
        try {
            if (dataId == null) {
                throw new Json.SchemaException("field 'data_id' must be a string like \"data_3\", got "
                        + (idNode == null ? "nothing" : idNode.toString()));
            }
            long promptIndex = Long.parseLong(match(DATA_ID, dataId, "data_id", "data_3"));
            int block = Integer.parseInt(match(ITR_ID, text(node, "jacobian_itr_id"), "jacobian_itr_id", "itr_0"));
            TokenIds lengthIds = ids(node, "prompt_ids_len", true);
            if (lengthIds.size() != 1) {
                throw new Json.SchemaException("field 'prompt_ids_len' must hold one length, got " + lengthIds);
            }
            TokenIds context = ids(node, "prompt_ids", true);
            JsonNode statesNode = node.get("answer_trajectory_ids");
            if (statesNode == null || !statesNode.isArray() || statesNode.isEmpty()) {
                throw new Json.SchemaException("field 'answer_trajectory_ids' must be a non-empty array of states");
            }
            List<TokenIds> states = new ArrayList<>(statesNode.size());
            for (int i = 0; i < statesNode.size(); i++) {
                states.add(flatten(statesNode.get(i), "answer_trajectory_ids[" + i + "]"));
            }
            TokenIds teacher = ids(node, "teacher_output_ids", true);
            TokenIds expected = context.concat(states.get(states.size() - 1));
            if (!teacher.equals(expected)) {
                throw new Json.SchemaException("teacher_output_ids (" + teacher.size() + " tokens) is not prompt_ids ("
                        + context.size() + ") followed by the last state of answer_trajectory_ids ("
                        + states.get(states.size() - 1).size() + "): " + firstDifference(teacher, expected));
            }
            TokenIds labels = ids(node, "labels_ids", false);
            TokenIds complete = node.has("complete_teacher_output_ids")
                    ? ids(node, "complete_teacher_output_ids", true) : null;
            JsonNode augmentedNode = node.get("augmented");
            if (augmentedNode != null && !augmentedNode.isBoolean()) {
                throw new Json.SchemaException("field 'augmented' must be true or false, got " + augmentedNode);
            }
            boolean augmented = augmentedNode != null && augmentedNode.booleanValue();
            int promptLength = lengthIds.get(0);
            TokenIds answer = TokenIds.empty();
            if (TrajectoryRecord.isPromptPlusAnswer(labels, context, promptLength)) {
                answer = labels.subSequence(promptLength, labels.size());
                labels = TokenIds.empty();
            }
            Trajectory t = new Trajectory(promptIndex, block, context, states, answer);
            return new Pending(new TrajectoryRecord(t, promptLength, labels, TokenIds.empty(), augmented), complete);
        } catch (Json.SchemaException | IllegalArgumentException e) {
            throw new TrajectoryFormatException(file, location, e.getMessage());
        }
    }

    private static String match(Pattern pattern, String value, String field, String example) {
        Matcher m = pattern.matcher(value);
        if (!m.matches()) {
            throw new Json.SchemaException("field '" + field + "' must look like \"" + example + "\", got \""
                    + Json.abbreviate(value) + "\"");
        }
        return m.group(1);
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw new Json.SchemaException("field '" + field + "' must be a string, got "
                    + (v == null ? "nothing" : Json.abbreviate(v.toString())));
        }
        return v.textValue();
    }

    private static TokenIds ids(JsonNode node, String field, boolean required) {
        JsonNode v = node.get(field);
        if (v == null) {
            if (required) {
                throw new Json.SchemaException("missing field '" + field + "'");
            }
            return TokenIds.empty();
        }
        return flatten(v, field);
    }

    /** A number, a flat array of ids, or either nested in single-element arrays (the authors' batch of one). */
    private static TokenIds flatten(JsonNode v, String field) {
        JsonNode n = v;
        while (n.isArray() && n.size() == 1 && n.get(0).isArray()) {
            n = n.get(0);
        }
        if (n.isIntegralNumber()) {
            return TokenIds.of(tokenId(n, field, 0));
        }
        if (!n.isArray()) {
            throw new Json.SchemaException("field '" + field + "' must be an array of token ids, got "
                    + Json.abbreviate(v.toString()));
        }
        int[] ids = new int[n.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = n.get(i);
            if (!e.isIntegralNumber()) {
                throw new Json.SchemaException("field '" + field + "' must be an array of token ids (a batch of one "
                        + "at most), element " + i + " is " + Json.abbreviate(e.toString()));
            }
            ids[i] = tokenId(e, field, i);
        }
        return TokenIds.of(ids);
    }

    private static int tokenId(JsonNode e, String field, int index) {
        if (!e.canConvertToInt() || e.intValue() < 0) {
            throw new Json.SchemaException("field '" + field + "' element " + index + " is not a token id: " + e);
        }
        return e.intValue();
    }

    private static String firstDifference(TokenIds a, TokenIds b) {
        int n = Math.min(a.size(), b.size());
        for (int i = 0; i < n; i++) {
            if (a.get(i) != b.get(i)) {
                return "first difference at index " + i + ": " + a.get(i) + " vs " + b.get(i);
            }
        }
        return "one is a prefix of the other";
    }
}
