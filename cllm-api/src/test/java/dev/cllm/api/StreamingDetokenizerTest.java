package dev.cllm.api;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link StreamingDetokenizer} on a byte-level tokenizer (one id per UTF-8 byte, plus special ids that decode to
 * nothing): the deltas concatenate to the full decode, never split a character, and the tokens decoded per accepted
 * token stay bounded however long the output grows.
 */
class StreamingDetokenizerTest {

    @Property(tries = 300)
    void deltasConcatenateToTheFullDecodeAndNeverSplitACharacter(@ForAll("texts") String text,
                                                                @ForAll @IntRange(min = 1, max = 12) int maxChunk,
                                                                @ForAll long seed) {
        ByteTokenizer tokenizer = new ByteTokenizer();
        int[] ids = tokenizer.withSpecials(tokenizer.encodeWithoutSpecialTokens(text), new Random(seed));
        List<String> deltas = new ArrayList<>();
        StreamingDetokenizer stream = new StreamingDetokenizer(tokenizer, deltas::add);
        Random chunks = new Random(seed + 1);
        for (int start = 0; start < ids.length; ) {
            int end = Math.min(ids.length, start + 1 + chunks.nextInt(maxChunk));
            stream.onTokens(TokenIds.copyOf(ids, start, end));
            String soFar = String.join("", deltas);
            assertThat(tokenizer.decode(Arrays.copyOf(ids, end))).as("the text of the first %d ids", end)
                    .startsWith(soFar);
            start = end;
        }
        stream.flush();
        assertThat(String.join("", deltas)).isEqualTo(text).isEqualTo(tokenizer.decode(ids));
        for (String delta : deltas) {
            assertThat(delta).isNotEmpty().doesNotContain("\uFFFD");
            assertThat(Character.isHighSurrogate(delta.charAt(delta.length() - 1))).as("ends inside a pair: %s", delta)
                    .isFalse();
            assertThat(Character.isLowSurrogate(delta.charAt(0))).as("starts inside a pair: %s", delta).isFalse();
        }
    }

    @Provide
    Arbitrary<String> texts() {
        // ASCII, two-, three- and four-byte characters (a four-byte one is a surrogate pair in Java)
        return Arbitraries.oneOf(Arbitraries.strings().ascii(), Arbitraries.strings().withChars("aé€ß 漢字"),
                Arbitraries.strings().withChars('x', ' ').withCharRange('\u0400', '\u04FF'),
                Arbitraries.of("😀", "🙂 ok", "a😀b𝄞c", "naïve café").list().ofMaxSize(20)
                        .map(l -> String.join("", l)));
    }

    /**
     * Linear, not quadratic: over a 26,000-token output delivered in blocks of 1 to 32 (as Jacobi decoding accepts
     * them), the tokens passed to {@code decode} stay within a few per token (about 2 measured). Re-decoding the whole
     * prefix on every delivery (the quadratic way) would pass about 21 million, 800 per token.
     */
    @Test
    void decodesABoundedNumberOfTokensPerAcceptedToken() {
        ByteTokenizer tokenizer = new ByteTokenizer();
        StringBuilder text = new StringBuilder();
        Random rng = new Random(4);
        String[] words = {"the ", "naïve ", "café ", "😀 ", "漢字 ", "ok. "};
        while (text.length() < 20_000) {
            text.append(words[rng.nextInt(words.length)]);
        }
        int[] ids = tokenizer.encodeWithoutSpecialTokens(text.toString());
        StringBuilder out = new StringBuilder();
        StreamingDetokenizer stream = new StreamingDetokenizer(tokenizer, out::append);
        for (int start = 0; start < ids.length; ) {
            int end = Math.min(ids.length, start + 1 + rng.nextInt(32));
            stream.onTokens(TokenIds.copyOf(ids, start, end));
            start = end;
        }
        stream.flush();
        assertThat(out.toString()).isEqualTo(text.toString());
        System.out.printf("%,d tokens: %,d decode calls over %,d tokens in all, at most %d in one call%n", ids.length,
                tokenizer.calls, tokenizer.decodedTokens, tokenizer.longestCall);
        assertThat(tokenizer.decodedTokens).as("tokens decoded in all").isLessThanOrEqualTo(3L * ids.length);
        // one call decodes at most its own block, four tokens of context and a held incomplete character's bytes
        assertThat(tokenizer.longestCall).as("tokens decoded in one call").isLessThanOrEqualTo(32 + 4 + 3);
    }

    @Test
    void anIncompleteCharacterIsHeldUntilItsLastByteAndFlushEmitsIt() {
        ByteTokenizer tokenizer = new ByteTokenizer();
        int[] euro = tokenizer.encodeWithoutSpecialTokens("€");      // three bytes
        List<String> deltas = new ArrayList<>();
        StreamingDetokenizer stream = new StreamingDetokenizer(tokenizer, deltas::add);
        stream.onTokens(TokenIds.of('a', euro[0]));
        assertThat(deltas).as("the complete part of a delivery goes out at once").containsExactly("a");
        stream.onTokens(TokenIds.of(euro[1]));
        assertThat(deltas).containsExactly("a");
        stream.onTokens(TokenIds.of(euro[2], 'b'));
        assertThat(deltas).containsExactly("a", "€b");
        stream.onTokens(TokenIds.of(euro[0]));
        stream.flush();
        assertThat(deltas).containsExactly("a", "€b", "\uFFFD");
    }

    /**
     * Bytes 0..255, and specials 256 (BOS) and 257 (EOS) that decode to nothing; counts what it decodes. Invalid
     * UTF-8 decodes to U+FFFD, as a byte-level BPE's decode does.
     */
    static final class ByteTokenizer implements Tokenizer {
        long calls;
        long decodedTokens;
        int longestCall;

        int[] withSpecials(int[] bytes, Random rng) {
            int[] out = new int[bytes.length * 2 + 1];
            int n = 0;
            if (rng.nextBoolean()) {
                out[n++] = 256;
            }
            for (int b : bytes) {
                out[n++] = b;
                if (rng.nextInt(8) == 0) {
                    out[n++] = 256 + rng.nextInt(2);
                }
            }
            return Arrays.copyOf(out, n);
        }

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
            calls++;
            decodedTokens += ids.length;
            longestCall = Math.max(longestCall, ids.length);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int id : ids) {
                if (id < 256) {
                    out.write(id);
                }
            }
            return out.toString(StandardCharsets.UTF_8);
        }

        @Override
        public int vocabSize() {
            return 258;
        }

        @Override
        public OptionalInt tokenId(String token) {
            return OptionalInt.empty();
        }

        @Override
        public OptionalInt bosTokenId() {
            return OptionalInt.of(256);
        }

        @Override
        public Set<Integer> eosTokenIds() {
            return Set.of(257);
        }
    }
}
