package dev.cllm.jacobi;

import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.torch.HfTokenizer;
import dev.cllm.torch.fixtures.RepositoryModels;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Output}'s incremental text on the word-level tokenizer of {@code models/sql-base}, whose decoder rewrites text
 * across token boundaries (joins digits, glues {@code ##} continuations, rewrites {@code " ' "}): any ids, accepted in
 * blocks of any size, give exactly the full decode, streamed and at the end, with and without a stop string.
 */
class OutputWordLevelTest {
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
    void incrementalTextIsTheFullDecode(@ForAll("ids") int[] ids, @ForAll @IntRange(min = 1, max = 16) int maxChunk,
                                        @ForAll long seed, @ForAll boolean withStopString) {
        HfTokenizer t = tokenizer();
        OutputTest.Recorder r = new OutputTest.Recorder();
        // a stop string that never occurs still makes the text incremental (it is checked as it grows)
        List<String> stops = withStopString ? List.of("\u0000never\u0000") : List.of();
        Output out = new Output(TokenIds.of(1), 1000, Set.of(), stops, t, r);
        Random chunks = new Random(seed);
        for (int start = 0; start < ids.length; ) {
            int end = Math.min(ids.length, start + 1 + chunks.nextInt(maxChunk));
            out.accept(Arrays.copyOfRange(ids, start, end));
            start = end;
        }
        out.finish(StopReason.MAX_NEW_TOKENS);
        assertThat(out.text()).as(Arrays.toString(ids)).isEqualTo(t.decode(ids));
        assertThat(r.text.toString()).as(Arrays.toString(ids)).isEqualTo(t.decode(ids));
    }

    /**
     * The case the property found: padding between two words decodes to nothing, so a window of the last few tokens
     * held no word before the quote and missed the decoder's {@code " ' "} rewrite ({@code "0 ' 0"} for
     * {@code "0 '0"}).
     */
    @Example
    void tokensWithoutTextAreNoContextForTheDecodersRewrites() {
        int[] ids = {4, 0, 0, 0, 15, 4};
        for (int maxChunk = 1; maxChunk <= ids.length; maxChunk++) {
            incrementalTextIsTheFullDecode(ids, maxChunk, 7L, false);
            incrementalTextIsTheFullDecode(ids, maxChunk, 7L, true);
        }
        assertThat(tokenizer().decode(ids)).isEqualTo("0 '0");
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
