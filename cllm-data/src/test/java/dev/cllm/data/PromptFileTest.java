package dev.cllm.data;

import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Prompt files: the accepted line shapes, indices over non-blank lines, and errors naming file and line. */
class PromptFileTest {
    private static final FakeTokenizer TOKENIZER = new FakeTokenizer();

    @TempDir
    Path dir;

    private Path write(String content) throws IOException {
        Path file = dir.resolve("prompts.jsonl");
        Files.writeString(file, content);
        return file;
    }

    @Test
    void readsIdsTextAndAnswersSkippingBlankLines() throws IOException {
        Path file = write("""
                {"prompt_ids": [1, 404, 475], "answer_ids": [464]}

                {"prompt": "ab", "answer": "c"}
                   \t
                plain text line\r
                  {"prompt_ids": [5], "answer": "x"}
                {"prompt":"q"}""");
        List<Prompt> prompts = PromptFile.of(file, TOKENIZER).read();
        assertThat(prompts).containsExactly(
                new Prompt(0, TokenIds.of(1, 404, 475), TokenIds.of(464)),
                new Prompt(1, TokenIds.of(TOKENIZER.encode("ab")), TokenIds.of('c' + 3)),
                Prompt.of(2, TokenIds.of(TOKENIZER.encode("plain text line"))),
                new Prompt(3, TokenIds.of(5), TokenIds.of('x' + 3)),
                Prompt.of(4, TokenIds.of(1, 'q' + 3)));
        assertThat(PromptFile.of(file, TOKENIZER).count()).isEqualTo(5);
    }

    @Test
    void idsOnlyFilesNeedNoTokenizer() throws IOException {
        Path file = write("{\"prompt_ids\": [3, 4]}\n{\"prompt_ids\": [5]}\n");
        assertThat(PromptFile.of(file).read()).containsExactly(Prompt.of(0, TokenIds.of(3, 4)),
                Prompt.of(1, TokenIds.of(5)));
    }

    @Test
    void aRangeParsesOnlyItsLines() throws IOException {
        Path file = write("{\"prompt_ids\": [3]}\n\nnot parsed without a tokenizer\n{\"prompt_ids\": [5]}\n"
                + "{\"prompt_ids\": [6]}\n");
        List<Prompt> out = new ArrayList<>();
        try (PromptFile.Cursor c = PromptFile.of(file).open(2, 3)) {
            c.forEachRemaining(out::add);
        }
        assertThat(out).containsExactly(Prompt.of(2, TokenIds.of(5)));
    }

    @Test
    void malformedLinesNameFileAndLine() throws IOException {
        assertError("{\"prompt_ids\": [1]}\n\n{\"prompt_ids\": [1,}\n", 3, "not valid JSON");
        assertError("{\"prompt_ids\": [1, -2]}\n", 1, "field 'prompt_ids' element 1 is not a token id: -2");
        assertError("{\"prompt_ids\": [1, \"a\"]}\n", 1, "element 1 is not a token id: \"a\"");
        assertError("{\"prompt_ids\": []}\n", 1, "the prompt is empty");
        assertError("{\"answer_ids\": [1]}\n", 1, "missing field 'prompt' or 'prompt_ids'");
        assertError("{\"prompt_ids\": [1], \"prompt\": \"a\"}\n", 1, "both 'prompt' and 'prompt_ids' given");
        assertError("{\"prompt_ids\": [1], \"answr\": \"a\"}\n", 1, "unknown field 'answr'");
        assertError("{\"prompt\": 5}\n", 1, "field 'prompt' must be a string, got 5");
        assertError("[1, 2]\n{\"prompt\": \"a\"", 1, "a text prompt needs a tokenizer");
        assertError("{\"prompt_ids\": [1]}\n{\"prompt\": \"text\"}\n", 2, "field 'prompt' needs a tokenizer");
        assertError("{\"prompt_ids\": [1], \"answer\": \"text\"}\n", 1, "field 'answer' needs a tokenizer");
        assertError("{\"prompt_ids\": [1]}\n{\"prompt_ids\": [1]} {}\n", 2, "not valid JSON");
    }

    private void assertError(String content, int line, String message) throws IOException {
        Path file = write(content);
        assertThatThrownBy(() -> PromptFile.of(file).read())
                .isInstanceOf(PromptFormatException.class)
                .hasMessageStartingWith(file + ":" + line + ": ")
                .hasMessageContaining(message);
    }

    @Test
    void aTextPromptThatEncodesToNothingIsAnError() throws IOException {
        Path file = write("{\"prompt\": \"\"}\n");
        FakeTokenizer noBos = new FakeTokenizer() {
            @Override
            public int[] encode(String text) {
                return encodeWithoutSpecialTokens(text);
            }
        };
        assertThatThrownBy(() -> PromptFile.of(file, noBos).read()).hasMessage(file + ":1: field 'prompt' encodes "
                + "to no tokens");
    }

    @Test
    void hashesTheFile() throws IOException {
        Path file = write("abc");
        assertThat(PromptFile.of(file).sha256())
                .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
