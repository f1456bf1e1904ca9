package dev.cllm.torch;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.ChatMessage;
import dev.cllm.api.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.cllm.api.ChatMessage.user;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where a chat template comes from in a checkpoint directory, and how its end-of-turn tokens are found. */
class ChatTemplateConfigTest {
    private static final String ECHO = "{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}";

    @TempDir
    Path dir;

    private void writeConfig(Object tokenizerConfig) throws IOException {
        new ObjectMapper().writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfig);
    }

    @Test
    void theDefaultOfNamedTemplatesIsTaken() throws IOException {
        writeConfig(Map.of("chat_template", List.of(
                Map.of("name", "tool_use", "template", "tools"),
                Map.of("name", "default", "template", ECHO))));
        assertThat(JinjaChatTemplate.read(dir).orElseThrow().render(List.of(user("hi")), true)).isEqualTo("user:hi;");
    }

    @Test
    void namedTemplatesWithoutADefaultAreAnError() throws IOException {
        writeConfig(Map.of("chat_template", List.of(Map.of("name", "tool_use", "template", "tools"))));
        assertThatThrownBy(() -> JinjaChatTemplate.read(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tokenizer_config.json")
                .hasMessageContaining("tool_use")
                .hasMessageContaining("'default'");
    }

    /** Newer transformers save the template next to tokenizer_config.json instead of inside it. */
    @Test
    void aChatTemplateJinjaFileIsReadWhenTheConfigHasNoTemplate() throws IOException {
        writeConfig(Map.of("eos_token", "</s>"));
        Files.writeString(dir.resolve("chat_template.jinja"), ECHO + "{{ eos_token }}");
        assertThat(JinjaChatTemplate.read(dir).orElseThrow().render(List.of(user("hi")), true))
                .isEqualTo("user:hi;</s>");
    }

    @Test
    void noTemplateAnywhereIsEmpty() throws IOException {
        writeConfig(Map.of("eos_token", "</s>"));
        assertThat(JinjaChatTemplate.read(dir)).isEmpty();
        assertThat(JinjaChatTemplate.read(dir.resolve("no-such-dir"))).isEmpty();
    }

    @Test
    void invalidJsonNamesTheFile() throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": ");
        assertThatThrownBy(() -> JinjaChatTemplate.read(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(dir.resolve("tokenizer_config.json").toString());
    }

    /** Special tokens come as strings or as AddedToken objects; a null one is simply not passed. */
    @Test
    void specialTokensInBothForms() throws IOException {
        writeConfig(Map.of("chat_template", "[{{ bos_token }}|{{ eos_token }}|{{ unk_token }}]",
                "bos_token", Map.of("__type", "AddedToken", "content", "<s>", "normalized", true),
                "eos_token", "</s>"));
        assertThat(JinjaChatTemplate.read(dir).orElseThrow().render(List.of(user("hi")), true))
                .isEqualTo("[<s>|</s>|]");
    }

    // ------------------------------------------------------------------------------------------ end of turn

    /** With {@code <|end_of_text|>} as EOS (as some Llama 3 checkpoints have it), the turn's {@code <|eot_id|>}. */
    @Test
    void theTurnEndIsFoundWhenItIsNotTheEosToken() throws IOException {
        String template = new ObjectMapper().readTree(ChatTemplateFamiliesTest.fixture("llama-3")
                .resolve("tokenizer_config.json").toFile()).get("chat_template").asText();
        JinjaChatTemplate chat = JinjaChatTemplate.of(template, Map.of("bos_token", "<|begin_of_text|>",
                "eos_token", "<|end_of_text|>"), Set.of("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
                Clock.systemUTC());
        assertThat(chat.endOfTurnTokens()).containsExactly("<|eot_id|>", "<|end_of_text|>");
    }

    /** Plain text after the assistant's words is not a stop token; only special tokens are. */
    @Test
    void onlySpecialTokensAfterTheReplyCount() {
        JinjaChatTemplate chat = JinjaChatTemplate.of("{% for m in messages %}### {{ m.role }}\n{{ m.content }}"
                + "\n<|end|>\n{% endfor %}", Map.of(), Set.of("<|end|>", "<|unused|>"), Clock.systemUTC());
        assertThat(chat.endOfTurnTokens()).containsExactly("<|end|>");
    }

    /** A template that cannot end on an assistant turn leaves the EOS token alone. */
    @Test
    void aTemplateThatRejectsTheProbeFallsBackToEos() {
        JinjaChatTemplate chat = JinjaChatTemplate.of("{% if messages[-1].role == 'assistant' %}"
                + "{{ raise_exception('the last message must be the user\\'s') }}{% endif %}<|user|>"
                + "{{ messages[-1].content }}", Map.of("eos_token", "<|eos|>"), Set.of("<|user|>"),
                Clock.systemUTC());
        assertThat(chat.endOfTurnTokens()).containsExactly("<|eos|>");
        assertThat(chat.render(List.of(user("hi")), true)).isEqualTo("<|user|>hi");
    }

    @Test
    void chatMessagesAreValidated() {
        assertThatThrownBy(() -> new ChatMessage(null, "x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("role");
        assertThatThrownBy(() -> new ChatMessage("  ", "x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("role");
        assertThatThrownBy(() -> ChatMessage.user(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("content");
        assertThat(ChatMessage.system("s")).isEqualTo(new ChatMessage("system", "s"));
        assertThat(ChatMessage.assistant("")).isEqualTo(new ChatMessage("assistant", ""));
        assertThat(new ChatMessage("tool", "42").role()).isEqualTo("tool");
    }
}
