package dev.cllm.data;

import dev.cllm.api.Tokenizer;

import java.util.OptionalInt;
import java.util.Set;

/** One token per character (its code point + 3); BOS is 1, EOS 2. */
class FakeTokenizer implements Tokenizer {
    static final int BOS = 1;

    @Override
    public int[] encode(String text) {
        int[] body = encodeWithoutSpecialTokens(text);
        int[] out = new int[body.length + 1];
        out[0] = BOS;
        System.arraycopy(body, 0, out, 1, body.length);
        return out;
    }

    @Override
    public int[] encodeWithoutSpecialTokens(String text) {
        return text.codePoints().map(c -> c + 3).toArray();
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            if (id > 2) {
                sb.appendCodePoint(id - 3);
            }
        }
        return sb.toString();
    }

    @Override
    public int vocabSize() {
        return 0x110000 + 3;
    }

    @Override
    public OptionalInt tokenId(String token) {
        return token.codePointCount(0, token.length()) == 1 ? OptionalInt.of(token.codePointAt(0) + 3)
                : OptionalInt.empty();
    }

    @Override
    public OptionalInt bosTokenId() {
        return OptionalInt.of(BOS);
    }

    @Override
    public Set<Integer> eosTokenIds() {
        return Set.of(2);
    }
}
