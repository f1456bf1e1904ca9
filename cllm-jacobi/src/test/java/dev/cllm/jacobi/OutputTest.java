package dev.cllm.jacobi;

import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link Output}: stop tokens, stop strings, budgets, incremental text, and what listeners receive. */
class OutputTest {
    private static final ByteTokenizer BYTES = new ByteTokenizer();

    /** Records what a listener receives. */
    static final class Recorder implements GenerationListener {
        final List<Integer> tokens = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        int decodes;

        @Override
        public boolean onTokens(TokenIds accepted) {
            accepted.stream().forEach(tokens::add);
            return true;
        }

        @Override
        public boolean onText(String piece) {
            assertThat(piece).isNotEmpty().doesNotContain("\uFFFD");
            text.append(piece);
            return true;
        }
    }

    private static int[] bytes(String s) {
        return BYTES.encode(s);
    }

    /** Feeds {@code ids} in chunks of {@code chunk} tokens. */
    private static Output feed(Output out, int[] ids, int chunk) {
        for (int i = 0; i < ids.length && !out.stopped(); i += chunk) {
            out.accept(java.util.Arrays.copyOfRange(ids, i, Math.min(ids.length, i + chunk)));
        }
        out.finish(StopReason.MAX_NEW_TOKENS);
        return out;
    }

    @Provide
    Arbitrary<String> texts() {
        // whole characters (a surrogate pair must not be split: it is one character of four UTF-8 bytes)
        return Arbitraries.of("a", "b", " ", "é", "€", "\uD83D\uDE00", "\n", "S", "T").list().ofMinSize(1).ofMaxSize(30)
                .map(parts -> String.join("", parts));
    }

    @Property(tries = 300)
    void streamedTextIsTheDecodedOutputAndNeverSplitsACharacter(@ForAll("texts") String s,
                                                                 @ForAll("chunks") int chunk) {
        Recorder r = new Recorder();
        Output out = feed(new Output(TokenIds.of(65), 1000, Set.of(), List.of(), BYTES, r), bytes(s), chunk);
        assertThat(out.text()).isEqualTo(s);
        assertThat(r.text.toString()).isEqualTo(s);
        assertThat(r.tokens).containsExactly(java.util.Arrays.stream(bytes(s)).boxed().toArray(Integer[]::new));
    }

    @Provide
    Arbitrary<Integer> chunks() {
        return Arbitraries.integers().between(1, 7);
    }

    @Property(tries = 300)
    void aStopStringCutsTheOutputAndNothingPastItIsEverDelivered(@ForAll("texts") String before,
                                                                  @ForAll("texts") String after,
                                                                  @ForAll("chunks") int chunk) {
        String stop = "STOP";
        String s = before + stop + after;
        Recorder r = new Recorder();
        Output out = feed(new Output(TokenIds.of(65), 1000, Set.of(), List.of(stop, "é€é€é€"), BYTES, r), bytes(s),
                chunk);
        int at = s.indexOf("é€é€é€") >= 0 && s.indexOf("é€é€é€") < s.indexOf(stop) ? s.indexOf("é€é€é€")
                : s.indexOf(stop);
        assertThat(out.stopReason()).isEqualTo(StopReason.STOP_STRING);
        assertThat(out.text()).isEqualTo(s.substring(0, at));
        assertThat(r.text.toString()).isEqualTo(out.text());
        assertThat(r.tokens).isEqualTo(out.ids().stream().boxed().toList());
        assertThat(BYTES.decode(out.ids().toArray())).isEqualTo(s.substring(0, at));
    }

    @Test
    void stopTokensCutTheOutputAndSayWhichEndedIt() {
        Recorder r = new Recorder();
        Output out = new Output(TokenIds.of(1), 100, Set.of(9), List.of(), null, r);
        assertThat(out.accept(new int[]{4, 5, 9, 6})).isEqualTo(2);
        out.finish(StopReason.MAX_NEW_TOKENS);
        assertThat(out.stopReason()).isEqualTo(StopReason.STOP_TOKEN);
        assertThat(out.stopToken()).isEqualTo(9);
        assertThat(out.ids().toArray()).containsExactly(4, 5);
        assertThat(out.text()).isNull();
        assertThat(r.tokens).containsExactly(4, 5);
    }

    @Test
    void theBudgetCutsAPassThatAcceptsMoreThanItAllows() {
        Output out = new Output(TokenIds.of(1), 3, Set.of(), List.of(), null, GenerationListener.NONE);
        out.accept(new int[]{4, 5});
        out.accept(new int[]{6, 7, 8});
        assertThat(out.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
        assertThat(out.ids().toArray()).containsExactly(4, 5, 6);
    }

    @Test
    void aListenerThatCancelsKeepsWhatItWasGiven() {
        List<Integer> seen = new ArrayList<>();
        Output out = new Output(TokenIds.of(1), 100, Set.of(), List.of(), null, accepted -> {
            accepted.stream().forEach(seen::add);
            return seen.size() < 3;
        });
        out.accept(new int[]{4, 5});
        out.accept(new int[]{6, 7});
        out.accept(new int[]{8});
        out.finish(StopReason.MAX_NEW_TOKENS);
        assertThat(out.stopReason()).isEqualTo(StopReason.CANCELLED);
        assertThat(out.ids().toArray()).containsExactly(4, 5, 6, 7);
        assertThat(seen).containsExactly(4, 5, 6, 7);
    }

    @Test
    void decodingIsIncremental() {
        int[] calls = {0};
        long[] decoded = {0};
        ByteTokenizer counting = new ByteTokenizer() {
            @Override
            public String decode(int[] ids) {
                calls[0]++;
                decoded[0] += ids.length;
                return super.decode(ids);
            }
        };
        String s = "é€😀ab".repeat(400);
        feed(new Output(TokenIds.of(65), 100_000, Set.of(), List.of("never"), counting, GenerationListener.NONE),
                bytes(s), 1);
        int n = bytes(s).length;
        assertThat(decoded[0]).as("ids decoded for %d output tokens", n).isLessThan(20L * n);
    }

    @Test
    void stopStringsNeedATokenizer() {
        assertThatThrownBy(() -> new Output(TokenIds.of(1), 10, Set.of(), List.of("x"), null, GenerationListener.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokenizer");
    }
}
