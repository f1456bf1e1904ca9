package dev.cllm.examples.sql;

import dev.cllm.examples.sql.SqlExample.Split;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The generator: determinism, sizes, format, and the properties of the held-out split. */
class SqlTaskTest {
    static SqlTask task;

    @BeforeAll
    static void generate() {
        task = TaskFixture.defaults();
    }

    @Test
    void theSameSeedWritesTheSameBytesAndAnotherSeedDoesNot(@TempDir Path dir) throws Exception {
        SqlTaskConfig config = new SqlTaskConfig(7, 300, 60, 6);
        SqlTask.generate(config).write(dir.resolve("a"));
        SqlTask.generate(config).write(dir.resolve("b"));
        SqlTask.generate(config.withSeed(8)).write(dir.resolve("c"));
        for (String file : List.of("task.json", "databases.jsonl", "train.prompts.jsonl", "train.examples.jsonl",
                "heldout.prompts.jsonl", "heldout.examples.jsonl")) {
            assertThat(Files.readAllBytes(dir.resolve("b").resolve(file))).as(file)
                    .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(file)));
        }
        assertThat(Files.readAllBytes(dir.resolve("c").resolve("train.prompts.jsonl")))
                .isNotEqualTo(Files.readAllBytes(dir.resolve("a").resolve("train.prompts.jsonl")));
    }

    @Test
    void splitsHaveTheConfiguredSizesAndDatabasesTheConfiguredShape() {
        assertThat(task.examples(Split.TRAIN)).hasSize(4000);
        assertThat(task.examples(Split.HELD_OUT)).hasSize(200);
        assertThat(task.examples().stream().collect(Collectors.groupingBy(SqlExample::db, Collectors.counting())))
                .allSatisfy((db, n) -> assertThat(n).isBetween(1L, 8L));
        for (SqlDatabase db : task.databases()) {
            assertThat(db.tables()).hasSizeBetween(3, 4);
            assertThat(db.foreignKeys()).isNotEmpty();
            for (SqlTable t : db.tables()) {
                assertThat(t.columns()).hasSizeBetween(3, 5);
                assertThat(t.rows()).hasSizeBetween(5, 12);
                assertThat(t.values("name")).doesNotHaveDuplicates();
            }
        }
    }

    @Test
    void questionsAreLowercaseAndSqlIsCanonical() {
        for (SqlExample e : task.examples()) {
            assertThat(e.question()).matches("[a-z0-9_?.,]+( [a-z0-9_?.,]+)*");
            assertThat(e.sql()).startsWith("SELECT ").doesNotContain("  ").isEqualTo(e.sql().strip());
            assertThat(e.sql().split(" ")).allSatisfy(tok -> assertThat(tok)
                    .matches("[A-Z]+|[a-z_]+|[0-9]+|'[a-z]+'|[(),*=<>.]"));
        }
        // one prompt, one SQL: exact match is meaningful
        assertThat(task.examples().stream().collect(Collectors.groupingBy(task::prompt,
                Collectors.mapping(SqlExample::sql, Collectors.toSet())))).allSatisfy((prompt, sqls) ->
                assertThat(sqls).as(prompt).hasSize(1));
    }

    @Test
    void heldOutTablesHaveColumnCombinationsNoTrainingTableHas() {
        Set<String> train = signatures(Split.TRAIN);
        Set<String> heldOut = signatures(Split.HELD_OUT);
        assertThat(heldOut).isNotEmpty().doesNotContainAnyElementsOf(train);
        // ...yet every table kind and every column name is seen in training
        assertThat(columns(Split.TRAIN)).containsAll(columns(Split.HELD_OUT));
    }

    @Test
    void heldOutPatternPhrasingPairsAreUnseenButEveryPatternAndWordIsSeen() {
        Set<String> train = pairs(Split.TRAIN);
        Set<String> heldOut = pairs(Split.HELD_OUT);
        assertThat(heldOut).doesNotContainAnyElementsOf(train);
        assertThat(task.examples(Split.TRAIN).stream().map(SqlExample::pattern).collect(Collectors.toSet()))
                .isEqualTo(EnumSet.allOf(SqlPattern.class));
        assertThat(task.examples(Split.HELD_OUT).stream().map(SqlExample::pattern).collect(Collectors.toSet()))
                .isEqualTo(EnumSet.allOf(SqlPattern.class));
        // every pattern keeps at least two phrasings for training
        for (SqlPattern p : SqlPattern.values()) {
            assertThat(train.stream().filter(s -> s.startsWith(p + "/"))).as(p.name()).hasSizeGreaterThan(1);
        }
        Set<String> trainWords = words(Split.TRAIN);
        assertThat(trainWords).containsAll(words(Split.HELD_OUT));
    }

    @Test
    void promptsAreSchemaThenQuestionThenCue() {
        SqlExample e = task.examples().get(0);
        SqlDatabase db = task.database(e.db());
        assertThat(task.prompt(e)).isEqualTo("schema : " + db.schemaText() + " question : " + e.question()
                + " sql :");
        assertThat(db.schemaText()).startsWith(db.tables().get(0).name() + " ( id , name , ");
    }

    @Test
    void validationQuestionsAreDrawnLikeTheHeldOutOnesAndAreNoneOfThem() {
        SqlTaskConfig config = new SqlTaskConfig(7, 1500, 60, 6);
        SqlTask test = SqlTask.generate(config);
        SqlTask validation = SqlTask.validation(config, 90);
        assertThat(SqlTask.validation(config, 90).examples()).as("deterministic").isEqualTo(validation.examples());
        assertThat(validation.examples(Split.TRAIN)).isEqualTo(test.examples(Split.TRAIN));
        List<SqlExample> v = validation.examples(Split.HELD_OUT);
        assertThat(v).hasSize(90);
        assertThat(v).allSatisfy(e -> assertThat(e.db()).startsWith("valid-"));
        Set<String> testPrompts = test.examples().stream().map(test::prompt).collect(Collectors.toSet());
        assertThat(v.stream().map(validation::prompt)).doesNotContainAnyElementsOf(testPrompts).doesNotHaveDuplicates();
        // the held-out split's (pattern, phrasing) pairs, unseen in training, and its table signatures
        Set<String> trainPairs = test.examples(Split.TRAIN).stream().map(e -> e.pattern() + "/" + e.phrasing())
                .collect(Collectors.toSet());
        assertThat(v.stream().map(e -> e.pattern() + "/" + e.phrasing())).doesNotContainAnyElementsOf(trainPairs);
        Map<SqlPattern, Set<Integer>> heldOutPhrasings = phrasingsByPattern(test.examples(Split.HELD_OUT));
        Map<SqlPattern, Set<Integer>> validationPhrasings = phrasingsByPattern(v);
        validationPhrasings.forEach((pattern, phrasings) -> {
            assertThat(phrasings).as(pattern.name()).hasSize(1);
            if (heldOutPhrasings.containsKey(pattern)) {
                assertThat(phrasings).as(pattern.name()).isEqualTo(heldOutPhrasings.get(pattern));
            }
        });
        Set<String> trainTables = tableSignatures(test, Split.TRAIN);
        assertThat(tableSignatures(validation, Split.HELD_OUT)).isNotEmpty().doesNotContainAnyElementsOf(trainTables);
        // the filter bites: told to avoid the first validation prompt as well, the draw avoids it
        String first = validation.prompt(v.get(0));
        SqlTask avoidingTask = SqlTaskGenerator.validation(config, 90, Set.of(first));
        List<SqlExample> avoiding = avoidingTask.examples(Split.HELD_OUT);
        assertThat(avoiding.stream().map(avoidingTask::prompt)).hasSize(90).doesNotContain(first);
        assertThat(avoiding).isNotEqualTo(v);
        assertThatThrownBy(() -> SqlTask.validation(config, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("validation questions must be >= 1, got 0");
    }

    private static Map<SqlPattern, Set<Integer>> phrasingsByPattern(List<SqlExample> examples) {
        return examples.stream().collect(Collectors.groupingBy(SqlExample::pattern,
                Collectors.mapping(SqlExample::phrasing, Collectors.toSet())));
    }

    /** "kind: attribute columns" of every table of the split's databases in {@code t}. */
    private static Set<String> tableSignatures(SqlTask t, Split split) {
        Set<String> ids = t.examples(split).stream().map(SqlExample::db).collect(Collectors.toSet());
        return t.databases().stream().filter(db -> ids.contains(db.id())).flatMap(db -> db.tables().stream())
                .map(tb -> tb.name() + ": " + tb.columns().stream().map(SqlColumn::name)
                        .filter(c -> !c.equals("id") && !c.equals("name") && !c.endsWith("_id")).sorted().toList())
                .collect(Collectors.toSet());
    }

    @Test
    void writtenTasksReadBackEqual(@TempDir Path dir) {
        SqlTask small = SqlTask.generate(new SqlTaskConfig(3, 50, 20, 5));
        small.write(dir);
        SqlTask read = SqlTask.read(dir);
        assertThat(read.config()).isEqualTo(small.config());
        assertThat(read.databases()).isEqualTo(small.databases());
        assertThat(read.examples()).isEqualTo(small.examples());
    }

    @Test
    void configsRejectBadSizes() {
        assertThatThrownBy(() -> SqlTaskConfig.defaults().withTrainExamples(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("trainExamples");
        assertThatThrownBy(() -> SqlTaskConfig.defaults().withExamplesPerDatabase(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("examplesPerDatabase");
    }

    /** "kind: attribute columns" of every table of the split's databases. */
    static Set<String> signatures(Split split) {
        return databases(split).flatMap(db -> db.tables().stream()).map(t -> t.name() + ": " + t.columns().stream()
                .map(SqlColumn::name).filter(c -> !c.equals("id") && !c.equals("name") && !c.endsWith("_id"))
                .sorted().toList()).collect(Collectors.toSet());
    }

    static Set<String> columns(Split split) {
        return databases(split).flatMap(db -> db.tables().stream()).flatMap(t -> Stream.concat(Stream.of(t.name()),
                t.columns().stream().map(SqlColumn::name))).collect(Collectors.toSet());
    }

    static Stream<SqlDatabase> databases(Split split) {
        Set<String> ids = task.examples(split).stream().map(SqlExample::db).collect(Collectors.toSet());
        return task.databases().stream().filter(db -> ids.contains(db.id()));
    }

    static Set<String> pairs(Split split) {
        return task.examples(split).stream().map(e -> e.pattern() + "/" + e.phrasing()).collect(Collectors.toSet());
    }

    /** The words of the split's questions, numbers excepted (they are digits to the tokenizer). */
    static Set<String> words(Split split) {
        Set<String> out = new HashSet<>();
        task.examples(split).forEach(e -> out.addAll(List.of(e.question().split(" "))));
        out.removeIf(w -> w.matches("[0-9]+"));
        return out;
    }
}
