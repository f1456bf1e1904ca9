package dev.cllm.jacobi;

import dev.cllm.api.ChatMessage;
import dev.cllm.api.ChatTemplate;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Chat input through any decoder: the template renders the prompt and its end-of-turn token stops the reply. */
class ChatGenerationTest {

    /** A byte tokenizer with a toy template: "[role]content" per message, "[assistant]" to prompt, byte 0 ends a turn. */
    static final class ChatBytes extends ByteTokenizer {
        @Override
        public Optional<ChatTemplate> chatTemplate() {
            return Optional.of(new ChatTemplate() {
                @Override
                public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
                    StringBuilder b = new StringBuilder();
                    for (ChatMessage m : messages) {
                        b.append('[').append(m.role()).append(']').append(m.content()).append('\0');
                    }
                    return addGenerationPrompt ? b.append("[assistant]").toString() : b.toString();
                }

                @Override
                public Set<String> endOfTurnTokens() {
                    return Set.of("\0");
                }
            });
        }

        @Override
        public OptionalInt tokenId(String token) {
            return token.equals("\0") ? OptionalInt.of(0) : OptionalInt.empty();
        }
    }

    @Test
    void theTemplateRendersThePromptAndItsEndOfTurnTokenStopsTheReply() {
        ChatBytes tokenizer = new ChatBytes();
        List<ChatMessage> chat = List.of(ChatMessage.system("be brief"), ChatMessage.user("hi"));
        int[] prompt = tokenizer.encodeWithoutSpecialTokens("[system]be brief\0[user]hi\0[assistant]");
        // a model whose greedy reply reaches byte 0 after a few tokens: find a salt for which it does
        for (long salt = 0; salt < 5000; salt++) {
            FakeModel probe = new FakeModel(256, 400, Set.of(), 2, salt, -1);
            int[] reply = probe.greedy(prompt, 40, Set.of());
            int at = indexOf(reply, 0);
            if (at >= 2) {
                FakeModel model = new FakeModel(256, 400, Set.of(), 2, salt, -1).withTokenizer(tokenizer);
                for (dev.cllm.api.Decoder d : List.<dev.cllm.api.Decoder>of(JacobiDecoder.jacobi(4, 40),
                        LookaheadDecoder.builder().passCost(PassCost.linear(1000, 10)).build())) {
                    Generation g = d.generate(model, chat, GenerationConfig.builder().maxNewTokens(40).build(),
                            GenerationListener.NONE);
                    assertThat(g.prompt()).isEqualTo(TokenIds.of(prompt));
                    assertThat(g.ids().toArray()).containsExactly(java.util.Arrays.copyOf(reply, at));
                    assertThat(g.stopReason()).isEqualTo(StopReason.STOP_TOKEN);
                    assertThat(g.stopToken()).isZero();
                }
                return;
            }
        }
        throw new AssertionError("no fake model reaches the end-of-turn byte");
    }

    @Test
    void aModelWithoutATemplateSaysSo() {
        FakeModel model = new FakeModel(256, 100, Set.of(), 2, 1, -1).withTokenizer(new ByteTokenizer());
        assertThatThrownBy(() -> JacobiDecoder.jacobi(4, 8).generate(model, List.of(ChatMessage.user("hi")),
                GenerationConfig.defaults(), GenerationListener.NONE))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no chat_template");
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == v) {
                return i;
            }
        }
        return -1;
    }
}
