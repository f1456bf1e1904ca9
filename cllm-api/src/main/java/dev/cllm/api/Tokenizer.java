package dev.cllm.api;

import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Text to token ids and back.
 *
 * <p>A tokenizer belongs to its model ({@link ConsistencyModel#tokenizer()}): the model closes it, waiting for the
 * calls in flight; afterwards every call throws {@link IllegalStateException}. Implementations are thread-safe.
 */
public interface Tokenizer {

    /** Encodes text, adding the special tokens the tokenizer's own template adds (for LLaMA: BOS). */
    int[] encode(String text);

    /** Encodes text without any special tokens: for continuing a sequence. */
    int[] encodeWithoutSpecialTokens(String text);

    /** Decodes ids to text, leaving out special tokens. */
    String decode(int[] ids);

    /** Number of ids in the vocabulary, special tokens included. */
    int vocabSize();

    /** The id of a token string exactly as in the vocabulary, if present. */
    OptionalInt tokenId(String token);

    /** The beginning-of-sequence id, if the tokenizer declares one. */
    OptionalInt bosTokenId();

    /** End-of-sequence ids the tokenizer declares (may be empty). */
    Set<Integer> eosTokenIds();

    /**
     * The checkpoint's chat template ({@code tokenizer_config.json}'s {@code chat_template}), if it has one. See
     * {@link ChatTemplate#require(Tokenizer)} for chat input.
     */
    default Optional<ChatTemplate> chatTemplate() {
        return Optional.empty();
    }
}
