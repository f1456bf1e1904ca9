package dev.cllm.data;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Our JSON Lines format: exact bytes, round trips, and errors that name the file and the line. */
class TrajectoryFormatTest {
    private static final String LINE0 = "{\"format_version\":1,\"prompt_index\":7,\"block\":0,\"context_ids\":[1,5,9],"
            + "\"states\":[[4,0,0],[4,2,0],[4,2,3]],\"fixed_point\":[4,2,3],\"answer_ids\":[8,8]}\n";

    @TempDir
    Path dir;

    static Trajectory trajectory(long prompt, int block, TokenIds context, TokenIds... states) {
        return new Trajectory(prompt, block, context, List.of(states), TokenIds.empty());
    }

    @Test
    void writesTheDocumentedLineAndOmitsDefaults() throws IOException {
        Path file = dir.resolve("t.jsonl");
        Trajectory t0 = new Trajectory(7, 0, TokenIds.of(1, 5, 9),
                List.of(TokenIds.of(4, 0, 0), TokenIds.of(4, 2, 0), TokenIds.of(4, 2, 3)), TokenIds.of(8, 8));
        Trajectory t1 = trajectory(7, 1, TokenIds.of(1, 5, 9, 4, 2, 3), TokenIds.of(6, 6, 6));
        try (TrajectoryWriter w = TrajectoryWriter.create(file)) {
            w.write(TrajectoryRecord.of(t0, 3));
            w.write(new TrajectoryRecord(t1, 3, TokenIds.of(1, 5), TokenIds.of(9), true));
            assertThat(w.size()).isZero();
            w.flush();
            assertThat(w.size()).isEqualTo(Files.size(file));
        }
        assertThat(Files.readString(file)).isEqualTo(LINE0
                + "{\"format_version\":1,\"prompt_index\":7,\"block\":1,\"prompt_length\":3,"
                + "\"context_ids\":[1,5,9,4,2,3],\"states\":[[6,6,6]],\"fixed_point\":[6,6,6],\"label_ids\":[1,5],"
                + "\"complete_teacher_output_ids\":[9],\"augmented\":true}\n");
        List<TrajectoryRecord> back = TrajectoryReader.readAll(file);
        assertThat(back).hasSize(2);
        assertThat(back.get(0).trajectory()).isEqualTo(t0);
        assertThat(back.get(1).promptLength()).isEqualTo(3);
        assertThat(back.get(1).augmented()).isTrue();
    }

    @Provide
    Arbitrary<List<TrajectoryRecord>> recordLists() {
        return RecordArbitraries.records().list().ofMaxSize(8);
    }

    @Property(tries = 200)
    void writeThenReadIsTheIdentity(@ForAll("recordLists") List<TrajectoryRecord> records) throws IOException {
        Path file = Files.createTempFile("roundtrip", ".jsonl");
        try {
            try (TrajectoryWriter w = TrajectoryWriter.create(file)) {
                w.write(records);
                w.sync();
            }
            assertThat(TrajectoryReader.readAll(file)).isEqualTo(records);
            // appending more records keeps the earlier ones
            try (TrajectoryWriter w = TrajectoryWriter.append(file)) {
                w.write(records);
            }
            assertThat(TrajectoryReader.readAll(file)).hasSize(2 * records.size());
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void malformedLinesNameFileAndLine() throws IOException {
        String valid = LINE0;
        assertError(valid + "{\"format_version\":1,\"prompt_index\":7\n" + valid, 2, "not valid JSON");
        assertError(valid + valid + "[1,2]\n", 3, "must be a JSON object");
        assertError(valid.replace("\"block\":0,", ""), 1, "missing field 'block'");
        assertError(valid.replace("\"block\":0", "\"block\":\"0\""), 1,
                "field 'block' must be an integer >= 0, got a string \"0\"");
        assertError(valid.replace("\"format_version\":1", "\"format_version\":2"), 1, "unknown format_version 2");
        assertError(valid.replace("[4,2,0]", "[4,2]"), 1, "state 1 has 2 tokens, state 0 has 3");
        assertError(valid.replace("\"fixed_point\":[4,2,3]", "\"fixed_point\":[4,2,4]"), 1,
                "field 'fixed_point' [4, 2, 4] differs from the last state [4, 2, 3]");
        assertError(valid.replace("\"context_ids\":[1,5,9]", "\"context_ids\":[1,-5,9]"), 1,
                "field 'context_ids' element 1 is not a token id: -5");
        assertError(valid.replace("\"context_ids\":[1,5,9]", "\"context_ids\":[1,5,9.5]"), 1,
                "field 'context_ids' element 2 must be a token id, got the number 9.5");
        assertError(valid.replace("\"context_ids\":[1,5,9]", "\"context_ids\":[1,5,3000000000]"), 1,
                "is not a token id: 3000000000");
        assertError(valid.replace("\"block\":0", "\"block\":0,\"blok\":1"), 1, "unknown field 'blok'");
        assertError(valid.replace("\"block\":0", "\"block\":0,\"block\":1"), 1,
                "not valid JSON: Duplicate field 'block'");
        assertError(valid.replace("\"context_ids\":[1,5,9]", "\"context_ids\":[]"), 1, "empty context");
        assertError(valid.replace("\"block\":0", "\"block\":0,\"prompt_length\":4"), 1,
                "promptLength 4 outside [1, 3]");
        assertError(valid.replace("\n", "{}\n"), 1, "more than one JSON value");
        assertError(valid + "\n" + valid, 2, "blank line");
        assertError(valid + "   \n", 2, "blank line");
    }

    private void assertError(String content, int line, String message) throws IOException {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, content);
        assertThatThrownBy(() -> TrajectoryReader.readAll(file))
                .isInstanceOf(TrajectoryFormatException.class)
                .hasMessageStartingWith(file + ":" + line + ": ")
                .hasMessageContaining(message)
                .satisfies(e -> assertThat(((TrajectoryFormatException) e).line()).isEqualTo(line));
    }

    @Test
    void tornLastLineIsDroppedAndReported() throws IOException {
        Path file = dir.resolve("torn.jsonl");
        byte[] line = LINE0.getBytes(StandardCharsets.UTF_8);
        for (int cut = 1; cut < line.length - 1; cut++) {
            byte[] content = new byte[2 * line.length + cut];
            System.arraycopy(line, 0, content, 0, line.length);
            System.arraycopy(line, 0, content, line.length, line.length);
            System.arraycopy(line, 0, content, 2 * line.length, cut);
            Files.write(file, content);
            try (TrajectoryReader reader = TrajectoryReader.open(file)) {
                int n = 0;
                while (reader.hasNext()) {
                    reader.next();
                    n++;
                }
                assertThat(n).as("records before a cut at %d", cut).isEqualTo(2);
                assertThat(reader.droppedTornLine()).isTrue();
            }
        }
    }

    @Test
    void unterminatedCompleteLastLineIsData() throws IOException {
        Path file = dir.resolve("noeol.jsonl");
        Files.writeString(file, LINE0 + LINE0.strip());
        try (TrajectoryReader reader = TrajectoryReader.open(file)) {
            assertThat(reader).toIterable().hasSize(2);
            assertThat(reader.droppedTornLine()).isFalse();
        }
    }

    @Test
    void unterminatedLastLineThatIsJsonButNotARecordIsAnError() throws IOException {
        Path file = dir.resolve("noeol.jsonl");
        Files.writeString(file, LINE0 + "{\"format_version\":1}");
        assertThatThrownBy(() -> TrajectoryReader.readAll(file)).isInstanceOf(TrajectoryFormatException.class)
                .hasMessage(file + ":2: missing field 'prompt_index'");
    }

    @Test
    void tornLineInTheMiddleIsAnError() throws IOException {
        Path file = dir.resolve("mid.jsonl");
        Files.writeString(file, LINE0.substring(0, 30) + "\n" + LINE0);
        assertThatThrownBy(() -> TrajectoryReader.readAll(file)).isInstanceOf(TrajectoryFormatException.class)
                .hasMessageStartingWith(file + ":1: not valid JSON");
    }

    @Test
    void emptyFileHasNoRecords() throws IOException {
        Path file = dir.resolve("empty.jsonl");
        Files.writeString(file, "");
        assertThat(TrajectoryReader.readAll(file)).isEmpty();
    }

    @Test
    void closedWriterRefusesWrites() {
        Path file = dir.resolve("c.jsonl");
        TrajectoryWriter w = TrajectoryWriter.create(file);
        w.close();
        w.close();
        assertThatThrownBy(() -> w.write(TrajectoryRecord.of(trajectory(0, 0, TokenIds.of(1), TokenIds.of(2)), 1)))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void recordsKeepLabelsCanonical() {
        Trajectory t = trajectory(0, 0, TokenIds.of(1, 2), TokenIds.of(3));
        assertThatThrownBy(() -> new TrajectoryRecord(t, 2, TokenIds.of(1, 2, 9), TokenIds.empty(), false))
                .hasMessageContaining("are the prompt followed by an answer");
        TrajectoryRecord verbatim = new TrajectoryRecord(t, 2, TokenIds.of(1, 7, 9), TokenIds.empty(), false);
        assertThat(verbatim.fullLabels()).isEqualTo(TokenIds.of(1, 7, 9));
        Trajectory answered = new Trajectory(0, 0, TokenIds.of(1, 2), List.of(TokenIds.of(3)), TokenIds.of(9));
        assertThat(TrajectoryRecord.of(answered, 2).fullLabels()).isEqualTo(TokenIds.of(1, 2, 9));
        assertThat(TrajectoryRecord.of(t, 1).prompt()).isEqualTo(TokenIds.of(1));
    }
}
