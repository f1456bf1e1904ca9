package dev.cllm.torch;

import dev.cllm.api.StreamingDetokenizer;
import dev.cllm.api.TokenIds;
import dev.cllm.torch.fixtures.RepositoryModels;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link StreamingDetokenizer} on the word-level tokenizer of {@code models/sql-base} (through DJL): its decoder glues
 * {@code ##} continuations to the word before, joins digits and rewrites {@code " ' "}, all across token boundaries,
 * and drops special tokens. Any ids, delivered in any blocks, stream to exactly the full decode.
 */
class StreamingWordLevelTest {
    private static HfTokenizer tokenizer;

    private static synchronized HfTokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = HfTokenizer.open(RepositoryModels.orSkip("sql-base/tokenizer.json"));
        }
        return tokenizer;
    }

    @AfterContainer
    static synchronized void close() {
        if (tokenizer != null) {
            tokenizer.close();
            tokenizer = null;
        }
    }

    @Property(tries = 200)
    void deltasConcatenateToTheDecodeOfEveryPrefix(@ForAll("ids") int[] ids,
                                                   @ForAll @IntRange(min = 1, max = 16) int maxChunk,
                                                   @ForAll long seed) {
        HfTokenizer t = tokenizer();
        List<String> deltas = new ArrayList<>();
        StreamingDetokenizer stream = new StreamingDetokenizer(t, deltas::add);
        Random chunks = new Random(seed);
        for (int start = 0; start < ids.length; ) {
            int end = Math.min(ids.length, start + 1 + chunks.nextInt(maxChunk));
            stream.onTokens(TokenIds.copyOf(ids, start, end));
            assertThat(String.join("", deltas)).as("after %d of %s", end, Arrays.toString(ids))
                    .isEqualTo(t.decode(Arrays.copyOf(ids, end)));
            start = end;
        }
        stream.flush();
        assertThat(String.join("", deltas)).isEqualTo(t.decode(ids));
        assertThat(deltas).doesNotContain("");
    }

    /**
     * Padding between two words decodes to nothing, so a window of the last few tokens held no word before the quote
     * and missed the decoder's {@code " ' "} rewrite ({@code "0 ' 0"} streamed for {@code "0 '0"}).
     */
    @Example
    void tokensWithoutTextAreNoContextForTheDecodersRewrites() {
        int[] ids = {4, 0, 0, 0, 15, 4};
        assertThat(tokenizer().decode(ids)).isEqualTo("0 '0");
        for (int maxChunk = 1; maxChunk <= ids.length; maxChunk++) {
            deltasConcatenateToTheDecodeOfEveryPrefix(ids, maxChunk, 7L);
        }
    }

    /** Any ids of the vocabulary (special ones included), answers as the model writes them, and the first ids often. */
    @Provide
    Arbitrary<int[]> ids() {
        int vocab = tokenizer().vocabSize();
        Arbitrary<int[]> random = Arbitraries.integers().between(0, vocab - 1).array(int[].class).ofMaxSize(120);
        Arbitrary<int[]> sql = Arbitraries.of("select count ( * ) from singer where age > 30 ;",
                "select name from stadium where capacity = 1234 and name = ' cat ' ;",
                "select t1.name , max ( t2.age ) from concert as t1 join singer as t2 group by t1.name ;")
                .map(text -> tokenizer().encode(text));
        // few ids drawn often (specials, digits, quotes, words, ## pieces): the neighbourhoods the decoder rewrites
        Arbitrary<int[]> dense = Arbitraries.integers().between(0, Math.min(vocab, 64) - 1).array(int[].class)
                .ofMaxSize(40);
        return Arbitraries.oneOf(random, sql, dense);
    }
}
