package dev.cllm.api;

import java.util.Set;

/**
 * What a decoder needs to know about a model, independent of how it is computed.
 *
 * @param architecture   the checkpoint's architecture name, e.g. {@code LlamaForCausalLM}
 * @param vocabSize      number of token ids the model accepts and predicts
 * @param contextLength  the most positions (prompt plus generated tokens) one session can hold
 * @param bosTokenId     the beginning-of-sequence id, or -1 when the model declares none
 * @param eosTokenIds    ids that end a generation unless the caller overrides them (may be empty)
 * @param parameterCount number of weights (tied matrices counted once)
 */
public record ModelConfig(String architecture, int vocabSize, int contextLength, int bosTokenId,
                          Set<Integer> eosTokenIds, long parameterCount) {

    public ModelConfig {
        if (architecture == null || architecture.isBlank()) {
            throw new IllegalArgumentException("architecture must be named");
        }
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be positive, got " + vocabSize);
        }
        if (contextLength <= 1) {
            throw new IllegalArgumentException("contextLength must be at least 2, got " + contextLength);
        }
        if (bosTokenId < -1 || bosTokenId >= vocabSize) {
            throw new IllegalArgumentException("bosTokenId " + bosTokenId + " outside [-1, " + vocabSize + ")");
        }
        eosTokenIds = Set.copyOf(eosTokenIds);
        for (int eos : eosTokenIds) {
            if (eos < 0 || eos >= vocabSize) {
                throw new IllegalArgumentException("eos token id " + eos + " outside [0, " + vocabSize + ")");
            }
        }
        if (parameterCount < 0) {
            throw new IllegalArgumentException("parameterCount must be non-negative, got " + parameterCount);
        }
    }

    /** Throws {@link IllegalArgumentException} naming the first id outside {@code [0, vocabSize)}. */
    public void checkTokenIds(int[] ids, int length, String what) {
        for (int i = 0; i < length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException(what + ": token id " + ids[i] + " at index " + i
                        + " is outside the vocabulary [0, " + vocabSize + ")");
            }
        }
    }
}
