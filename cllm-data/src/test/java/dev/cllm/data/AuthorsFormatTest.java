package dev.cllm.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Import and export of the authors' JSON: both round trips, accepted shapes, and errors naming the element. */
class AuthorsFormatTest {
    /**
     * Hand-written in the shape of the authors' cleaned output (generate_trajectory.py + cllm/utils.py, --use_aug and
     * --use_labels): prompt 0 has two blocks and labels that are prompt + answer; its first block carries an
     * augmented state at the front of the list, as their code inserts it. Prompt 3's labels were tokenized jointly
     * and differ from its prompt at the boundary; its last block was dropped by cleaning, so its complete teacher
     * output is longer than what the file holds.
     */
    static final String AUTHORS = """
            [{"data_id": "data_0", "jacobian_itr_id": "itr_0", "prompt_ids_len": [3], "prompt_ids": [[1, 10, 11]],
              "answer_trajectory_ids": [[12, 13, 99, 15], [12, 40, 41, 42], [12, 13, 41, 42], [12, 13, 14, 42],
                                        [12, 13, 14, 15]],
              "labels_ids": [[1, 10, 11, 12, 13, 2]],
              "teacher_output_ids": [[1, 10, 11, 12, 13, 14, 15]],
              "complete_teacher_output_ids": [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 2]},
             {"data_id": "data_0", "jacobian_itr_id": "itr_1", "prompt_ids_len": [3],
              "prompt_ids": [[1, 10, 11, 12, 13, 14, 15]],
              "answer_trajectory_ids": [[16, 5, 5, 5], [16, 17, 18, 2]],
              "labels_ids": [[1, 10, 11, 12, 13, 2]],
              "teacher_output_ids": [[1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 2]],
              "complete_teacher_output_ids": [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 2]},
             {"data_id": "data_3", "jacobian_itr_id": "itr_0", "prompt_ids_len": [2], "prompt_ids": [[1, 30]],
              "answer_trajectory_ids": [[31, 32]],
              "labels_ids": [[1, 29, 33]],
              "teacher_output_ids": [[1, 30, 31, 32]],
              "complete_teacher_output_ids": [1, 30, 31, 32, 7, 7]}]
            """;

    @TempDir
    Path dir;

    @Test
    void importsTheAuthorsFile() throws IOException {
        Path authors = write("authors.json", AUTHORS);
        List<TrajectoryRecord> records = new ArrayList<>();
        assertThat(AuthorsFormat.read(authors, records::add)).isEqualTo(3);

        TrajectoryRecord first = records.get(0);
        assertThat(first.trajectory().promptIndex()).isZero();
        assertThat(first.trajectory().block()).isZero();
        assertThat(first.trajectory().context()).isEqualTo(TokenIds.of(1, 10, 11));
        assertThat(first.trajectory().states()).hasSize(5);
        assertThat(first.trajectory().answer()).isEqualTo(TokenIds.of(12, 13, 2)); // labels minus the prompt
        assertThat(first.labels()).isEqualTo(TokenIds.empty());
        assertThat(first.completeTeacherOutput()).isEqualTo(TokenIds.empty()); // derivable from itr_1
        assertThat(records.get(1).promptLength()).isEqualTo(3);
        assertThat(records.get(1).trajectory().block()).isEqualTo(1);

        TrajectoryRecord third = records.get(2);
        assertThat(third.trajectory().promptIndex()).isEqualTo(3);
        assertThat(third.trajectory().answer()).isEqualTo(TokenIds.empty());
        assertThat(third.labels()).isEqualTo(TokenIds.of(1, 29, 33)); // kept verbatim
        assertThat(third.completeTeacherOutput()).isEqualTo(TokenIds.of(1, 30, 31, 32, 7, 7)); // not derivable
    }

    @Test
    void authorsToOursToAuthorsIsTheIdentity() throws IOException {
        Path authors = write("authors.json", AUTHORS);
        Path ours = dir.resolve("ours.jsonl");
        Path back = dir.resolve("back.json");
        assertThat(AuthorsFormat.importFile(authors, ours)).isEqualTo(3);
        assertThat(AuthorsFormat.exportFile(ours, back)).isEqualTo(3);
        assertThat(tree(back)).isEqualTo(tree(authors));

        // and for a file we exported, byte for byte
        Path ours2 = dir.resolve("ours2.jsonl");
        Path back2 = dir.resolve("back2.json");
        AuthorsFormat.importFile(back, ours2);
        AuthorsFormat.exportFile(ours2, back2);
        assertThat(Files.readAllBytes(back2)).isEqualTo(Files.readAllBytes(back));
        assertThat(Files.readAllBytes(ours2)).isEqualTo(Files.readAllBytes(ours));
    }

    @Test
    void exportWritesTheAuthorsShape() throws IOException {
        Trajectory t = new Trajectory(5, 0, TokenIds.of(1, 2), List.of(TokenIds.of(3, 0), TokenIds.of(3, 4)),
                TokenIds.of(9));
        Path ours = dir.resolve("ours.jsonl");
        try (TrajectoryWriter w = TrajectoryWriter.create(ours)) {
            w.write(TrajectoryRecord.of(t, 2));
        }
        Path out = dir.resolve("out.json");
        AuthorsFormat.exportFile(ours, out);
        assertThat(Files.readString(out)).isEqualTo("""
                [
                {"data_id":"data_5","jacobian_itr_id":"itr_0","prompt_ids_len":[2],"prompt_ids":[[1,2]],\
                "answer_trajectory_ids":[[3,0],[3,4]],"labels_ids":[[1,2,9]],"teacher_output_ids":[[1,2,3,4]],\
                "complete_teacher_output_ids":[1,2,3,4]}
                ]
                """);
        Path empty = dir.resolve("empty.json");
        assertThat(AuthorsFormat.write(List.<TrajectoryRecord>of().iterator(), empty)).isZero();
        assertThat(Files.readString(empty)).isEqualTo("[]\n");
        assertThat(AuthorsFormat.read(empty, r -> { })).isZero();
    }

    /** Records of several prompts, each prompt's blocks consecutive and contexts growing, as collected. */
    @Provide
    Arbitrary<List<TrajectoryRecord>> datasets() {
        return Arbitraries.longs().map(seed -> {
            Random r = new Random(seed);
            List<TrajectoryRecord> out = new ArrayList<>();
            long index = r.nextInt(5);
            for (int p = r.nextInt(4); p > 0; p--, index += 1 + r.nextInt(3)) {
                int n = 1 + r.nextInt(6);
                TokenIds prompt = RecordArbitraries.ids(r, 1 + r.nextInt(6), 100);
                TokenIds context = prompt;
                int options = r.nextInt(8);
                for (int b = 0, blocks = 1 + r.nextInt(3); b < blocks; b++) {
                    TrajectoryRecord base = RecordArbitraries.record(r, index, b, context.size(), n,
                            1 + r.nextInt(4), options);
                    Trajectory t = new Trajectory(index, b, context, base.trajectory().states(),
                            base.trajectory().answer());
                    // complete teacher outputs that cannot be derived: longer than every teacher output
                    TokenIds complete = base.completeTeacherOutput().isEmpty() ? TokenIds.empty()
                            : context.concat(RecordArbitraries.ids(r, 20 + n * 4, 50));
                    out.add(new TrajectoryRecord(t, prompt.size(), base.labels().isEmpty() ? TokenIds.empty()
                            : TokenIds.of(Integer.MAX_VALUE), complete, base.augmented()));
                    context = t.teacherOutput();
                }
            }
            return out;
        });
    }

    @Property(tries = 150)
    void oursToAuthorsToOursIsTheIdentity(@ForAll("datasets") List<TrajectoryRecord> records) throws IOException {
        Path authors = Files.createTempFile("authors", ".json");
        try {
            AuthorsFormat.write(records.iterator(), authors);
            List<TrajectoryRecord> back = new ArrayList<>();
            AuthorsFormat.read(authors, back::add);
            assertThat(back).isEqualTo(records);
        } finally {
            Files.delete(authors);
        }
    }

    @Test
    void acceptsFlatArraysDeeperNestingAndJsonLines() throws IOException {
        String flat = """
                {"data_id": "data_0", "jacobian_itr_id": "itr_0", "prompt_ids_len": 2, "prompt_ids": [1, 2], \
                "answer_trajectory_ids": [[[3, 4]]], "teacher_output_ids": [[[1, 2, 3, 4]]]}

                {"data_id": "data_1", "jacobian_itr_id": "itr_0", "prompt_ids_len": [[2]], "prompt_ids": [[[5, 6]]], \
                "answer_trajectory_ids": [[7, 8]], "teacher_output_ids": [5, 6, 7, 8], "extra": "ignored"}
                """;
        List<TrajectoryRecord> records = new ArrayList<>();
        AuthorsFormat.read(write("a.jsonl", flat), records::add);
        assertThat(records).extracting(r -> r.trajectory().teacherOutput())
                .containsExactly(TokenIds.of(1, 2, 3, 4), TokenIds.of(5, 6, 7, 8));
    }

    @Test
    void errorsNameTheElementAndTheDataId() throws IOException {
        String mismatch = AUTHORS.replace("\"teacher_output_ids\": [[1, 30, 31, 32]]",
                "\"teacher_output_ids\": [[1, 30, 31, 33]]");
        Path file = write("bad.json", mismatch);
        assertThatThrownBy(() -> AuthorsFormat.read(file, r -> { }))
                .isInstanceOf(TrajectoryFormatException.class)
                .hasMessage(file + ": element 2 (data_id data_3): teacher_output_ids (4 tokens) is not prompt_ids (2) "
                        + "followed by the last state of answer_trajectory_ids (2): "
                        + "first difference at index 3: 33 vs 32");

        Path ids = write("ids.json", AUTHORS.replace("\"data_3\"", "\"sample_3\""));
        assertThatThrownBy(() -> AuthorsFormat.read(ids, r -> { }))
                .hasMessageContaining("element 2 (data_id sample_3): field 'data_id' must look like \"data_3\"");

        Path batch = write("batch.json", AUTHORS.replace("[[1, 30]]", "[[1, 30], [1, 31]]"));
        assertThatThrownBy(() -> AuthorsFormat.read(batch, r -> { }))
                .hasMessageContaining("element 2 (data_id data_3): field 'prompt_ids' must be an array of token ids");

        Path missing = write("missing.jsonl", "{\"data_id\": \"data_0\", \"jacobian_itr_id\": \"itr_0\"}\n");
        assertThatThrownBy(() -> AuthorsFormat.read(missing, r -> { }))
                .hasMessage(missing + ": line 1 (data_id data_0): missing field 'prompt_ids_len'");

        Path syntax = write("syntax.json", "[{\"data_id\": \"data_0\",\n \"x\": ]");
        assertThatThrownBy(() -> AuthorsFormat.read(syntax, r -> { }))
                .isInstanceOf(TrajectoryFormatException.class)
                .hasMessageStartingWith(syntax + ":2: not valid JSON (in element 0)");

        Path neither = write("neither.json", "hello");
        assertThatThrownBy(() -> AuthorsFormat.read(neither, r -> { }))
                .hasMessageContaining("neither a JSON array nor JSON Lines");
    }

    private Path write(String name, String content) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, content);
        return file;
    }

    private static JsonNode tree(Path file) throws IOException {
        return Json.MAPPER.readTree(file.toFile());
    }
}
