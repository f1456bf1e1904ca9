package dev.cllm.examples.sql;

import dev.cllm.api.Prompt;
import dev.cllm.examples.sql.SqlExample.Split;
import dev.cllm.torch.HfTokenizer;
import dev.cllm.data.PromptFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The tokenizer through the real DJL binding ({@link HfTokenizer}), on every prompt and SQL of the task. */
class SqlTokenizerFilesTest {
    @TempDir
    static Path dir;
    static SqlTask task;
    static HfTokenizer tokenizer;

    @BeforeAll
    static void open() {
        task = TaskFixture.defaults();
        tokenizer = HfTokenizer.open(SqlTokenizerFiles.write(dir));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void theVocabularyIsSmallAndStartsWithTheSpecialTokens() {
        List<String> vocabulary = SqlTokenizerFiles.vocabulary();
        assertThat(vocabulary).hasSizeBetween(200, 1000).doesNotHaveDuplicates()
                .startsWith("<pad>", "<s>", "</s>", "<unk>", "0", "1");
        assertThat(tokenizer.vocabSize()).isEqualTo(vocabulary.size());
        assertThat(tokenizer.bosTokenId()).hasValue(1);
        assertThat(tokenizer.eosTokenIds()).containsExactly(2);
        assertThat(tokenizer.tokenId("<pad>")).hasValue(0);
        assertThat(tokenizer.tokenId("<unk>")).hasValue(3);
    }

    @Test
    void encodingAddsBosAndSplitsDigitsAndQuotes() {
        String sql = "SELECT name FROM singer WHERE country = 'france' AND year > 1995";
        int[] ids = tokenizer.encode(sql);
        assertThat(ids[0]).isEqualTo(1);
        assertThat(tokenizer.encodeWithoutSpecialTokens(sql)).isEqualTo(Arrays.copyOfRange(ids, 1, ids.length));
        List<String> tokens = Arrays.stream(ids).mapToObj(SqlTokenizerFilesTest::token).toList();
        assertThat(tokens).containsExactly("<s>", "SELECT", "name", "FROM", "singer", "WHERE", "country", "=", "'",
                "france", "##'", "<unk>", "year", ">", "1", "9", "9", "5");
        // decoding skips special tokens, <unk> included
        assertThat(tokenizer.decode(tokenizer.encode("WHERE year > 1995 AND x < 7 LIMIT 3")))
                .isEqualTo("WHERE year > 1995 < 7 LIMIT 3");
    }

    @Test
    void everyPromptAndSqlRoundTripsExactlyWithoutUnknownTokens() {
        int unk = tokenizer.tokenId("<unk>").orElseThrow();
        for (SqlExample e : task.examples()) {
            for (String text : List.of(task.prompt(e), e.sql())) {
                int[] ids = tokenizer.encode(text);
                assertThat(ids).as(text).doesNotContain(unk);
                assertThat(tokenizer.decode(ids)).isEqualTo(text);
            }
        }
    }

    @Test
    void promptsAreShort() {
        int[] lengths = task.examples().stream().mapToInt(e -> tokenizer.encode(task.prompt(e)).length).sorted()
                .toArray();
        int[] answers = task.examples().stream().mapToInt(e -> tokenizer.encodeWithoutSpecialTokens(e.sql()).length)
                .sorted().toArray();
        System.out.printf("prompt tokens (with BOS): min %d median %d p90 %d p99 %d max %d%n", lengths[0],
                lengths[lengths.length / 2], lengths[lengths.length * 9 / 10], lengths[lengths.length * 99 / 100],
                lengths[lengths.length - 1]);
        System.out.printf("answer tokens: min %d median %d p90 %d p99 %d max %d%n", answers[0],
                answers[answers.length / 2], answers[answers.length * 9 / 10], answers[answers.length * 99 / 100],
                answers[answers.length - 1]);
        assertThat(lengths[lengths.length * 9 / 10]).isLessThanOrEqualTo(80);
        assertThat(lengths[lengths.length - 1] + answers[answers.length - 1]).isLessThanOrEqualTo(128);
    }

    @Test
    void everyHeldOutTokenOccursInTraining() {
        Set<Integer> train = tokens(Split.TRAIN);
        assertThat(train).containsAll(tokens(Split.HELD_OUT));
    }

    @Test
    void promptFilesReadWithTheTokenizer(@TempDir Path out) throws Exception {
        task.write(out);
        List<Prompt> prompts = PromptFile.of(SqlTask.promptsFile(out, Split.HELD_OUT), tokenizer).read();
        List<SqlExample> examples = task.examples(Split.HELD_OUT);
        assertThat(prompts).hasSameSizeAs(examples);
        assertThat(Files.readAllLines(SqlTask.examplesFile(out, Split.HELD_OUT))).hasSameSizeAs(examples);
        for (int i = 0; i < prompts.size(); i++) {
            assertThat(prompts.get(i).ids().toArray()).isEqualTo(tokenizer.encode(task.prompt(examples.get(i))));
            assertThat(tokenizer.decode(prompts.get(i).answer().toArray())).isEqualTo(examples.get(i).sql());
        }
    }

    @Test
    void theFilesAreTheSameOnEveryWrite(@TempDir Path other) throws Exception {
        SqlTokenizerFiles.write(other);
        for (String file : List.of("tokenizer.json", "tokenizer_config.json")) {
            assertThat(Files.readAllBytes(other.resolve(file))).isEqualTo(Files.readAllBytes(dir.resolve(file)));
        }
    }

    private static Set<Integer> tokens(Split split) {
        Set<Integer> out = new HashSet<>();
        for (SqlExample e : task.examples(split)) {
            Arrays.stream(tokenizer.encode(task.prompt(e) + " " + e.sql())).forEach(out::add);
        }
        return out;
    }

    private static String token(int id) {
        return SqlTokenizerFiles.vocabulary().get(id);
    }
}
