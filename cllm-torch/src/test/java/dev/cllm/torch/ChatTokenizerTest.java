package dev.cllm.torch;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.ChatMessage;
import dev.cllm.api.ChatTemplate;
import dev.cllm.api.Tokenizer;
import dev.cllm.torch.fixtures.RepositoryModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

import static dev.cllm.api.ChatMessage.user;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Chat templates through {@link HfTokenizer}: the tokenizer of a checkpoint with a {@code chat_template} offers it,
 * the rendered prompt encodes to the template's special tokens as single ids, and a checkpoint without one says so.
 * Uses the hand-written tokenizer in {@code src/test/resources/tokenizers/chat}.
 */
class ChatTokenizerTest {
    private static final int BOS = 1;
    private static final int EOS = 2;
    private static final int IM_START = 3;
    private static final int IM_END = 4;

    @TempDir
    Path dir;

    /** {@code dir} with the test tokenizer and the {@code tokenizer_config.json} of a family's fixture. */
    private HfTokenizer tokenizerWithConfigOf(String family) throws IOException {
        copy("/tokenizers/chat/tokenizer.json", dir.resolve("tokenizer.json"));
        Files.copy(ChatTemplateFamiliesTest.fixture(family).resolve("tokenizer_config.json"),
                dir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
        return HfTokenizer.open(dir.resolve("tokenizer.json"));
    }

    private void writeConfig(Map<String, String> tokenizerConfig) throws IOException {
        new ObjectMapper().writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfig);
    }

    private static void copy(String resource, Path target) {
        try (InputStream in = ChatTokenizerTest.class.getResourceAsStream(resource)) {
            assertThat(in).as("test resource %s", resource).isNotNull();
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void addedTokensInTheRenderedPromptEncodeToTheirSingleIds() throws IOException {
        try (HfTokenizer tokenizer = tokenizerWithConfigOf("qwen2.5")) {
            ChatTemplate chat = ChatTemplate.require(tokenizer);
            String prompt = chat.render(List.of(user("Hello, how are you?")), true);

            assertThat(tokenizer.encodeWithoutSpecialTokens(prompt)).containsExactly(
                    IM_START, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 8, 9, 17, 18, 7, 16, IM_END,   // system ... <|im_end|>
                    IM_START, 6, 19, 11, 20, 9, 8, 21, IM_END,                                    // user ... <|im_end|>
                    IM_START, 7);                                                               // assistant
            assertThat(chat.endOfTurnIds(tokenizer)).containsExactly(IM_END);
        }
    }

    /** The template writes the BOS token itself: encoding with special tokens would put in a second one. */
    @Test
    void aRenderedPromptIsEncodedWithoutAddingSpecialTokens() throws IOException {
        try (HfTokenizer tokenizer = tokenizerWithConfigOf("mistral-v0.2")) {
            ChatTemplate chat = ChatTemplate.require(tokenizer);
            String prompt = chat.render(List.of(user("Hello, how are you?")), true);
            assertThat(prompt).isEqualTo("<s> [INST] Hello, how are you? [/INST]");

            assertThat(tokenizer.encodeWithoutSpecialTokens(prompt))
                    .containsExactly(BOS, 22, 25, 24, 19, 11, 20, 9, 8, 21, 23, 25, 24);
            assertThat(tokenizer.encode(prompt)).startsWith(BOS, BOS);
            assertThat(chat.endOfTurnIds(tokenizer)).containsExactly(EOS);
        }
    }

    /** An end-of-turn token that is neither EOS nor listed in tokenizer_config.json is found in tokenizer.json. */
    @Test
    void endOfTurnTokensAreLookedForAmongTheTokenizersAddedTokens() throws IOException {
        copy("/tokenizers/chat/tokenizer.json", dir.resolve("tokenizer.json"));
        writeConfig(Map.of("eos_token", "</s>", "chat_template", "{% for m in messages %}{{ '<|im_start|>' + m.role"
                + " + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}"
                + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"));
        try (HfTokenizer tokenizer = HfTokenizer.open(dir.resolve("tokenizer.json"))) {
            ChatTemplate chat = tokenizer.chatTemplate().orElseThrow();
            assertThat(chat.render(List.of(user("hello")), true))
                    .isEqualTo("<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n");
            assertThat(chat.endOfTurnTokens()).containsExactly("<|im_end|>", "</s>");
            assertThat(chat.endOfTurnIds(tokenizer)).containsExactlyInAnyOrder(IM_END, EOS);
        }
    }

    @Test
    void anEndOfTurnTokenOutsideTheVocabularyIsAnError() throws IOException {
        copy("/tokenizers/chat/tokenizer.json", dir.resolve("tokenizer.json"));
        writeConfig(Map.of("eos_token", "<|eot_id|>", "chat_template", "{{ messages[0].content }}<|eot_id|>"));
        try (HfTokenizer tokenizer = HfTokenizer.open(dir.resolve("tokenizer.json"))) {
            ChatTemplate chat = tokenizer.chatTemplate().orElseThrow();
            assertThatThrownBy(() -> chat.endOfTurnIds(tokenizer))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("<|eot_id|>");
        }
    }

    @Test
    void aTokenizerWithoutTokenizerConfigHasNoTemplate() {
        copy("/tokenizers/chat/tokenizer.json", dir.resolve("tokenizer.json"));
        try (HfTokenizer tokenizer = HfTokenizer.open(dir.resolve("tokenizer.json"))) {
            assertThat(tokenizer.chatTemplate()).isEmpty();
            assertThatThrownBy(() -> ChatTemplate.require(tokenizer))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("this checkpoint has no chat_template in tokenizer_config.json, so chat messages"
                            + " cannot be formatted for it; plain-text prompts (Tokenizer.encode) still work");
        }
    }

    /** The shipped text-to-SQL model is a plain-text model: chat input gets a clear error, plain text still works. */
    @Test
    void aCheckpointWithoutAChatTemplateGivesAClearError() {
        Path sqlBase = RepositoryModels.orSkip("sql-base");
        try (TorchConsistencyModel model = TorchConsistencyModel.load(sqlBase, TorchOptions.defaults()
                .withDevice("cpu"))) {
            Tokenizer tokenizer = model.tokenizer().orElseThrow();
            assertThat(tokenizer.chatTemplate()).isEmpty();
            assertThatThrownBy(() -> ChatTemplate.require(tokenizer))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("no chat_template in tokenizer_config.json")
                    .hasMessageContaining("plain-text prompts");
            assertThat(tokenizer.encode("schema :")).isNotEmpty();
        }
    }

    @Test
    void loadingAndRenderingWriteNothingToStandardError() throws IOException {
        PrintStream previous = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try (HfTokenizer tokenizer = tokenizerWithConfigOf("llama-3.1")) {
            ChatTemplate chat = ChatTemplate.require(tokenizer);
            chat.render(ChatTemplateFamiliesTest.MULTI, true);
            chat.render(List.of(user("a"), new ChatMessage("tool", "42")), false);
        } finally {
            System.setErr(previous);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8)).isEmpty();
    }
}
