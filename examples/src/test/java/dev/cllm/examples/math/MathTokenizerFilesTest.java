package dev.cllm.examples.math;

import dev.cllm.api.Prompt;
import dev.cllm.examples.math.MathExample.Split;
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

/** The tokenizer through the real DJL binding ({@link HfTokenizer}), on every prompt and solution of the task. */
class MathTokenizerFilesTest {
    @TempDir
    static Path dir;
    static MathTask task;
    static HfTokenizer tokenizer;

    @BeforeAll
    static void open() {
        task = MathTaskFixture.defaults();
        tokenizer = HfTokenizer.open(MathTokenizerFiles.write(dir));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void theVocabularyIsSmallAndStartsWithTheSpecialTokens() {
        List<String> vocabulary = MathTokenizerFiles.vocabulary();
        System.out.println("vocabulary: " + vocabulary.size() + " tokens");
        assertThat(vocabulary).hasSizeBetween(100, 200).doesNotHaveDuplicates()
                .startsWith("<pad>", "<s>", "</s>", "<unk>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
                .contains("+", "-", "x", "/", "=", "final", "answer", "question", ":");
        assertThat(tokenizer.vocabSize()).isEqualTo(vocabulary.size());
        assertThat(tokenizer.bosTokenId()).hasValue(1);
        assertThat(tokenizer.eosTokenIds()).containsExactly(2);
        assertThat(tokenizer.tokenId("<pad>")).hasValue(0);
        assertThat(tokenizer.tokenId("<unk>")).hasValue(3);
    }

    @Test
    void everyWordOfTheVocabularyOccursInTraining() {
        Set<Integer> train = tokens(Split.TRAIN);
        for (int id = 4; id < MathTokenizerFiles.vocabulary().size(); id++) {
            assertThat(train).as(token(id)).contains(id);
        }
    }

    @Test
    void encodingAddsBosAndSplitsNumbersIntoDigits() {
        String text = "127 - 9 = 118 . final answer 118";
        int[] ids = tokenizer.encode(text);
        assertThat(ids[0]).isEqualTo(1);
        assertThat(tokenizer.encodeWithoutSpecialTokens(text)).isEqualTo(Arrays.copyOfRange(ids, 1, ids.length));
        assertThat(Arrays.stream(ids).mapToObj(MathTokenizerFilesTest::token).toList()).containsExactly("<s>", "1",
                "2", "7", "-", "9", "=", "1", "1", "8", ".", "final", "answer", "1", "1", "8");
        assertThat(tokenizer.decode(ids)).isEqualTo(text);
        // decoding skips special tokens, <unk> included
        assertThat(tokenizer.decode(tokenizer.encode("tom has 12 pumpkins ."))).isEqualTo("tom has 12 .");
    }

    @Test
    void everyPromptAndSolutionRoundTripsExactlyWithoutUnknownTokens() {
        int unk = tokenizer.tokenId("<unk>").orElseThrow();
        for (MathExample e : task.examples()) {
            for (String text : List.of(MathTask.prompt(e), MathTask.answer(e))) {
                int[] ids = tokenizer.encodeWithoutSpecialTokens(text);
                assertThat(ids).as(text).doesNotContain(unk).hasSize(MathTaskGenerator.words(text).size());
                assertThat(tokenizer.decode(ids)).isEqualTo(text);
            }
        }
    }

    @Test
    void everyHeldOutTokenOccursInTraining() {
        assertThat(tokens(Split.TRAIN)).containsAll(tokens(Split.HELD_OUT));
    }

    @Test
    void promptFilesReadWithTheTokenizer(@TempDir Path out) throws Exception {
        task.write(out);
        List<Prompt> prompts = PromptFile.of(MathTask.promptsFile(out, Split.HELD_OUT), tokenizer).read();
        List<MathExample> examples = task.examples(Split.HELD_OUT);
        assertThat(prompts).hasSameSizeAs(examples);
        assertThat(Files.readAllLines(MathTask.examplesFile(out, Split.HELD_OUT))).hasSameSizeAs(examples);
        for (int i = 0; i < prompts.size(); i++) {
            assertThat(prompts.get(i).ids().toArray()).isEqualTo(tokenizer.encode(MathTask.prompt(examples.get(i))));
            assertThat(tokenizer.decode(prompts.get(i).answer().toArray())).isEqualTo(examples.get(i).solution());
        }
    }

    @Test
    void theFilesAreTheSameOnEveryWrite(@TempDir Path other) throws Exception {
        MathTokenizerFiles.write(other);
        for (String file : List.of("tokenizer.json", "tokenizer_config.json")) {
            assertThat(Files.readAllBytes(other.resolve(file))).isEqualTo(Files.readAllBytes(dir.resolve(file)));
        }
    }

    private static Set<Integer> tokens(Split split) {
        Set<Integer> out = new HashSet<>();
        for (MathExample e : task.examples(split)) {
            Arrays.stream(tokenizer.encode(MathTask.prompt(e) + " " + MathTask.answer(e))).forEach(out::add);
        }
        return out;
    }

    private static String token(int id) {
        return MathTokenizerFiles.vocabulary().get(id);
    }
}
