package dev.cllm.torch;

import dev.cllm.api.ChatMessage;
import dev.cllm.api.ChatTemplate;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.List;

import static dev.cllm.api.ChatMessage.assistant;
import static dev.cllm.api.ChatMessage.system;
import static dev.cllm.api.ChatMessage.user;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The published chat templates of the model families in {@code src/test/resources/chat-templates} (see the README
 * there), rendered to the exact prompts transformers' {@code apply_chat_template} gives for the same conversations.
 */
class ChatTemplateFamiliesTest {
    static final List<ChatMessage> SINGLE = List.of(user("Hello, how are you?"));
    static final List<ChatMessage> SYSTEM = List.of(system("You are a helpful assistant."),
            user("Hello, how are you?"));
    /** The assistant's reply is padded with spaces: some templates trim message content, others keep it. */
    static final List<ChatMessage> MULTI = List.of(user("Hello, how are you?"),
            assistant("   I am fine, thank you!   "), user("Write a haiku."));
    static final List<ChatMessage> FINISHED = List.of(user("Hello, how are you?"),
            assistant("I am fine, thank you!"));

    /** The template of a family's fixture directory. */
    static JinjaChatTemplate family(String name) {
        return JinjaChatTemplate.read(fixture(name)).orElseThrow();
    }

    static Path fixture(String name) {
        URL url = ChatTemplateFamiliesTest.class.getResource("/chat-templates/" + name);
        assertThat(url).as("test resource chat-templates/%s", name).isNotNull();
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Nested
    class Llama3 {
        final ChatTemplate chat = family("llama-3");

        @Test
        void singleUserTurn() {
            assertThat(chat.render(SINGLE, true)).isEqualTo("<|begin_of_text|><|start_header_id|>user<|end_header_id|>"
                    + "\n\nHello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        @Test
        void systemAndUser() {
            assertThat(chat.render(SYSTEM, true)).isEqualTo("<|begin_of_text|><|start_header_id|>system<|end_header_id|>"
                    + "\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello, how"
                    + " are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        @Test
        void multiTurnTrimsContent() {
            assertThat(chat.render(MULTI, true)).isEqualTo("<|begin_of_text|><|start_header_id|>user<|end_header_id|>"
                    + "\n\nHello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am fine, thank"
                    + " you!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWrite a haiku.<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        @Test
        void withoutGenerationPrompt() {
            assertThat(chat.render(FINISHED, false)).isEqualTo("<|begin_of_text|><|start_header_id|>user"
                    + "<|end_header_id|>\n\nHello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
                    + "\n\nI am fine, thank you!<|eot_id|>");
        }

        @Test
        void endOfTurn() {
            assertThat(chat.endOfTurnTokens()).containsExactly("<|eot_id|>");
        }
    }

    @Nested
    class Llama31 {
        final ChatTemplate chat = family("llama-3.1");
        static final String PREAMBLE = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting"
                + " Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

        @Test
        void singleUserTurnGetsTheDefaultSystemHeader() {
            assertThat(chat.render(SINGLE, true)).isEqualTo(PREAMBLE + "<|eot_id|><|start_header_id|>user"
                    + "<|end_header_id|>\n\nHello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
                    + "\n\n");
        }

        @Test
        void systemAndUser() {
            assertThat(chat.render(SYSTEM, true)).isEqualTo(PREAMBLE + "You are a helpful assistant.<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|><|start_header_id|>"
                    + "assistant<|end_header_id|>\n\n");
        }

        @Test
        void multiTurnTrimsContent() {
            assertThat(chat.render(MULTI, true)).isEqualTo(PREAMBLE + "<|eot_id|><|start_header_id|>user"
                    + "<|end_header_id|>\n\nHello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
                    + "\n\nI am fine, thank you!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWrite a haiku."
                    + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        @Test
        void withoutGenerationPrompt() {
            assertThat(chat.render(FINISHED, false)).isEqualTo(PREAMBLE + "<|eot_id|><|start_header_id|>user"
                    + "<|end_header_id|>\n\nHello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
                    + "\n\nI am fine, thank you!<|eot_id|>");
        }

        /** Python's {@code "42" is iterable} holds, so the template writes a tool result through {@code tojson}. */
        @Test
        void toolResultIsQuotedAsTransformersQuotesIt() {
            List<ChatMessage> messages = List.of(user("What is 6 times 7?"), new ChatMessage("tool", "42"));
            assertThat(chat.render(messages, true)).isEqualTo(PREAMBLE + "<|eot_id|><|start_header_id|>user"
                    + "<|end_header_id|>\n\nWhat is 6 times 7?<|eot_id|><|start_header_id|>ipython<|end_header_id|>"
                    + "\n\n\"42\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        @Test
        void endOfTurn() {
            assertThat(chat.endOfTurnTokens()).containsExactly("<|eot_id|>");
        }
    }

    @Nested
    class Qwen25 {
        final ChatTemplate chat = family("qwen2.5");
        static final String DEFAULT_SYSTEM = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a"
                + " helpful assistant.<|im_end|>\n";

        @Test
        void singleUserTurnGetsTheDefaultSystemPrompt() {
            assertThat(chat.render(SINGLE, true)).isEqualTo(DEFAULT_SYSTEM
                    + "<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n");
        }

        @Test
        void systemReplacesTheDefault() {
            assertThat(chat.render(SYSTEM, true)).isEqualTo("<|im_start|>system\nYou are a helpful assistant.<|im_end|>"
                    + "\n<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n");
        }

        @Test
        void multiTurnKeepsContentAsIs() {
            assertThat(chat.render(MULTI, true)).isEqualTo(DEFAULT_SYSTEM
                    + "<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n   I am fine, thank you!"
                    + "   <|im_end|>\n<|im_start|>user\nWrite a haiku.<|im_end|>\n<|im_start|>assistant\n");
        }

        @Test
        void withoutGenerationPrompt() {
            assertThat(chat.render(FINISHED, false)).isEqualTo(DEFAULT_SYSTEM
                    + "<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\nI am fine, thank you!"
                    + "<|im_end|>\n");
        }

        @Test
        void endOfTurn() {
            assertThat(chat.endOfTurnTokens()).containsExactly("<|im_end|>");
        }
    }

    /** Mistral-7B-Instruct-v0.2 (tokenizer "V1": a space before {@code [INST]} and before the reply). */
    @Nested
    class MistralV02 {
        final ChatTemplate chat = family("mistral-v0.2");

        @Test
        void singleUserTurn() {
            assertThat(chat.render(SINGLE, true)).isEqualTo("<s> [INST] Hello, how are you? [/INST]");
        }

        @Test
        void systemGoesInFrontOfTheFirstUserMessage() {
            assertThat(chat.render(SYSTEM, true))
                    .isEqualTo("<s> [INST] You are a helpful assistant.\n\nHello, how are you? [/INST]");
        }

        @Test
        void multiTurn() {
            assertThat(chat.render(MULTI, true)).isEqualTo("<s> [INST] Hello, how are you? [/INST]    I am fine, thank"
                    + " you!   </s> [INST] Write a haiku. [/INST]");
        }

        /** The template has no generation prompt: both renderings of a conversation ending on the user agree. */
        @Test
        void withoutGenerationPrompt() {
            assertThat(chat.render(FINISHED, false))
                    .isEqualTo("<s> [INST] Hello, how are you? [/INST] I am fine, thank you!</s>");
            assertThat(chat.render(SINGLE, false)).isEqualTo(chat.render(SINGLE, true));
        }

        @Test
        void rolesMustAlternate() {
            List<ChatMessage> twoUsers = List.of(user("Hello"), user("Are you there?"));
            assertThatThrownBy(() -> chat.render(twoUsers, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("After the optional system message, conversation roles must alternate"
                            + " user/assistant/user/assistant/...");
        }

        @Test
        void toolRoleIsRejectedWithTheTemplatesMessage() {
            List<ChatMessage> tool = List.of(user("Hello"), new ChatMessage("tool", "42"));
            assertThatThrownBy(() -> chat.render(tool, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("Only user and assistant roles are supported, with the exception of an initial"
                            + " optional system message!");
        }

        @Test
        void endOfTurn() {
            assertThat(chat.endOfTurnTokens()).containsExactly("</s>");
        }
    }

    /** deepseek-coder-6.7b-instruct, the base of the CLLM authors' code checkpoints. */
    @Nested
    class DeepSeekCoder {
        final ChatTemplate chat = family("deepseek-coder");
        static final String BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>";
        static final String DEFAULT_SYSTEM = "You are an AI programming assistant, utilizing the Deepseek Coder model,"
                + " developed by Deepseek Company, and you only answer questions related to computer science. For"
                + " politically sensitive questions, security and privacy issues, and other non-computer science"
                + " questions, you will refuse to answer\n";

        @Test
        void singleUserTurnGetsTheDefaultSystemPrompt() {
            assertThat(chat.render(SINGLE, true)).isEqualTo(BOS + DEFAULT_SYSTEM
                    + "### Instruction:\nHello, how are you?\n### Response:\n");
        }

        /** The template writes a system message without a newline after it: transformers gives the same. */
        @Test
        void systemReplacesTheDefault() {
            assertThat(chat.render(SYSTEM, true)).isEqualTo(BOS
                    + "You are a helpful assistant.### Instruction:\nHello, how are you?\n### Response:\n");
        }

        @Test
        void multiTurn() {
            assertThat(chat.render(MULTI, true)).isEqualTo(BOS + DEFAULT_SYSTEM
                    + "### Instruction:\nHello, how are you?\n### Response:\n   I am fine, thank you!   \n<|EOT|>\n"
                    + "### Instruction:\nWrite a haiku.\n### Response:\n");
        }

        @Test
        void withoutGenerationPrompt() {
            assertThat(chat.render(FINISHED, false)).isEqualTo(BOS + DEFAULT_SYSTEM
                    + "### Instruction:\nHello, how are you?\n### Response:\nI am fine, thank you!\n<|EOT|>\n");
        }

        @Test
        void endOfTurn() {
            assertThat(chat.endOfTurnTokens()).containsExactly("<|EOT|>");
        }
    }
}
