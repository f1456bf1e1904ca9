package dev.cllm.api;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Turns a chat conversation into the prompt text a checkpoint was fine-tuned on (Hugging Face's
 * {@code apply_chat_template}).
 *
 * <p>The rendered text already holds the template's special tokens (for Llama 3 the BOS token), so encode it with
 * {@link Tokenizer#encodeWithoutSpecialTokens(String)}, not {@link Tokenizer#encode(String)}:
 *
 * <pre>{@code
 * ChatTemplate chat = ChatTemplate.require(model.tokenizer().orElseThrow());
 * String prompt = chat.render(List.of(ChatMessage.user("Write a haiku.")), true);
 * int[] ids = tokenizer.encodeWithoutSpecialTokens(prompt);
 * Set<Integer> stops = chat.endOfTurnIds(tokenizer);   // e.g. <|eot_id|>, <|im_end|>
 * }</pre>
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface ChatTemplate {

    /**
     * Renders a conversation.
     *
     * @param messages            the conversation, oldest first
     * @param addGenerationPrompt whether to end with the header that opens an assistant turn (true to prompt the
     *                            model for a reply; false to format a finished conversation)
     * @throws IllegalArgumentException when the template rejects the conversation (for example Mistral's "Conversation
     *                                  roles must alternate user/assistant/user/assistant/..."), with the template's
     *                                  message
     */
    String render(List<ChatMessage> messages, boolean addGenerationPrompt);

    /**
     * The token strings that end an assistant turn (for example {@code <|eot_id|>}, {@code <|im_end|>},
     * {@code </s>}, {@code <|EOT|>}): generation should stop at any of them. Includes the tokenizer's EOS token.
     */
    Set<String> endOfTurnTokens();

    /**
     * The ids of {@link #endOfTurnTokens()} in {@code tokenizer}'s vocabulary, for a decoder's stop tokens.
     *
     * @throws IllegalStateException naming a token the vocabulary lacks
     */
    default Set<Integer> endOfTurnIds(Tokenizer tokenizer) {
        Set<Integer> ids = new LinkedHashSet<>();
        for (String token : endOfTurnTokens()) {
            ids.add(tokenizer.tokenId(token).orElseThrow(() -> new IllegalStateException(
                    "end-of-turn token '" + token + "' of the chat template is not in the tokenizer's vocabulary")));
        }
        return Set.copyOf(ids);
    }

    /**
     * The chat template of a tokenizer, for chat input.
     *
     * @throws IllegalStateException when the checkpoint has none (plain-text prompts still work)
     */
    static ChatTemplate require(Tokenizer tokenizer) {
        return tokenizer.chatTemplate().orElseThrow(() -> new IllegalStateException(
                "this checkpoint has no chat_template in tokenizer_config.json, so chat messages cannot be formatted"
                        + " for it; plain-text prompts (Tokenizer.encode) still work"));
    }
}
