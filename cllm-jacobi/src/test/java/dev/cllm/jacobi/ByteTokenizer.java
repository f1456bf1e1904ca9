package dev.cllm.jacobi;

import dev.cllm.api.Tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A byte-level tokenizer for tests: ids 0..255 are single bytes, so one character of several UTF-8 bytes spans
 * several tokens and a window that cuts a character decodes to U+FFFD, as real byte-level BPE does.
 */
class ByteTokenizer implements Tokenizer {
    @Override
    public int[] encode(String text) {
        return encodeWithoutSpecialTokens(text);
    }

    @Override
    public int[] encodeWithoutSpecialTokens(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xFF;
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            out.write(id);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public int vocabSize() {
        return 256;
    }

    @Override
    public OptionalInt tokenId(String token) {
        return OptionalInt.empty();
    }

    @Override
    public OptionalInt bosTokenId() {
        return OptionalInt.empty();
    }

    @Override
    public Set<Integer> eosTokenIds() {
        return Set.of();
    }
}
