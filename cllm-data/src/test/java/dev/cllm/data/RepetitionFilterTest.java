package dev.cllm.data;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import dev.cllm.data.RepetitionFilter.Verdict;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The thresholds of both repetition tests, and what they ignore. */
class RepetitionFilterTest {
    private static final RepetitionFilter RUNS = RepetitionFilter.defaults().withNgram(0, 4);
    private static final RepetitionFilter NGRAMS = RepetitionFilter.defaults().withMaxRun(0);

    /** A block-0 trajectory (prompt == context) with fixed point {@code fixed}. */
    private static Trajectory block(int[] context, int... fixed) {
        return new Trajectory(0, 0, TokenIds.of(context), List.of(TokenIds.of(fixed)), TokenIds.empty());
    }

    private static int[] repeat(int token, int count) {
        return IntStream.generate(() -> token).limit(count).toArray();
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(java.util.Arrays::stream).toArray();
    }

    @Test
    void aRunOfTenInTheFixedPointIsDroppedNineIsKept() {
        assertThat(RUNS.verdict(block(new int[] {1, 2}, concat(repeat(5, 10), new int[] {6})), 2))
                .isEqualTo(Verdict.TOKEN_RUN);
        assertThat(RUNS.verdict(block(new int[] {1, 2}, concat(repeat(5, 9), new int[] {6, 5})), 2))
                .isEqualTo(Verdict.KEEP);
        assertThat(RUNS.withMaxRun(3).verdict(block(new int[] {1, 2}, 4, 4, 4, 1), 2)).isEqualTo(Verdict.TOKEN_RUN);
    }

    @Test
    void aRunThatStartsInTheContextCountsOneEntirelyInsideDoesNot() {
        // 6 tokens in the context + 4 in the fixed point = 10
        assertThat(RUNS.verdict(block(concat(new int[] {1}, repeat(5, 6)), 5, 5, 5, 5, 9), 7))
                .isEqualTo(Verdict.TOKEN_RUN);
        // a run of 20 in the prompt that the fixed point does not continue
        assertThat(RUNS.verdict(block(repeat(5, 20), 6, 7, 8), 20)).isEqualTo(Verdict.KEEP);
        // the prompt's run continued by a single token: 9 context tokens + 1 = 10
        assertThat(RUNS.verdict(block(repeat(5, 20), 5, 7, 8), 20)).isEqualTo(Verdict.TOKEN_RUN);
    }

    @Test
    void tokensAfterEosAreIgnored() {
        int[] fixed = concat(new int[] {3, 2}, repeat(0, 12));
        assertThat(RUNS.verdict(block(new int[] {1}, fixed), 1)).isEqualTo(Verdict.TOKEN_RUN);
        assertThat(RUNS.withEosTokenIds(Set.of(2)).verdict(block(new int[] {1}, fixed), 1)).isEqualTo(Verdict.KEEP);
        assertThat(RUNS.withEosTokenIds(Set.of(3)).verdict(block(repeat(3, 20), fixed), 20))
                .as("EOS first: nothing generated").isEqualTo(Verdict.KEEP);
    }

    @Test
    void anNgramOccurringFourTimesInTheGeneratedTokensIsDroppedThreeIsKept() {
        int[] phrase = {30, 31, 32, 33};
        int[] prompt = {1, 2, 3};
        // generated so far (context after the prompt): the phrase twice; the fixed point adds it twice more
        int[] context = concat(prompt, phrase, new int[] {40}, phrase);
        Trajectory four = new Trajectory(0, 1, TokenIds.of(context),
                List.of(TokenIds.of(concat(new int[] {41}, phrase, phrase))), TokenIds.empty());
        assertThat(NGRAMS.verdict(four, prompt.length)).isEqualTo(Verdict.REPEATED_NGRAM);
        Trajectory three = new Trajectory(0, 1, TokenIds.of(context),
                List.of(TokenIds.of(concat(new int[] {41}, phrase, new int[] {42, 43, 44, 45}))), TokenIds.empty());
        assertThat(NGRAMS.verdict(three, prompt.length)).isEqualTo(Verdict.KEEP);
        assertThat(NGRAMS.withNgram(4, 3).verdict(three, prompt.length)).isEqualTo(Verdict.REPEATED_NGRAM);
    }

    @Test
    void ngramsInThePromptOrOnlyInEarlierBlocksDoNotCount() {
        int[] phrase = {30, 31, 32, 33};
        int[] prompt = concat(phrase, phrase, phrase, phrase, phrase);
        // the prompt repeats the phrase five times; the fixed point has it once
        assertThat(NGRAMS.verdict(block(prompt, concat(phrase, new int[] {50, 51})), prompt.length))
                .isEqualTo(Verdict.KEEP);
        // with the prompt length wrongly given as 0, the prompt's repeats would count
        assertThat(NGRAMS.verdict(block(prompt, concat(phrase, new int[] {50, 51})), 0))
                .isEqualTo(Verdict.REPEATED_NGRAM);
        // four repeats in earlier blocks, none ending in this fixed point
        int[] context = concat(new int[] {1}, phrase, phrase, phrase, phrase);
        Trajectory later = new Trajectory(0, 4, TokenIds.of(context), List.of(TokenIds.of(60, 61, 62, 63)),
                TokenIds.empty());
        assertThat(NGRAMS.verdict(later, 1)).isEqualTo(Verdict.KEEP);
        // ...but one that straddles the boundary does: context ends 30 31 32, fixed point starts 33
        Trajectory straddle = new Trajectory(0, 4, TokenIds.of(concat(context, new int[] {30, 31, 32})),
                List.of(TokenIds.of(33, 61, 62, 63)), TokenIds.empty());
        assertThat(NGRAMS.verdict(straddle, 1)).isEqualTo(Verdict.REPEATED_NGRAM);
    }

    @Test
    void aLengthThreeCycleIsCaughtByNgramsNotByRuns() {
        int[] cycle = concat(new int[] {20, 21, 22}, new int[] {20, 21, 22}, new int[] {20, 21, 22},
                new int[] {20, 21, 22, 20, 21, 22});
        Trajectory t = block(new int[] {1}, cycle);
        assertThat(RUNS.verdict(t, 1)).isEqualTo(Verdict.KEEP);
        assertThat(RepetitionFilter.defaults().verdict(t, 1)).isEqualTo(Verdict.REPEATED_NGRAM);
        assertThat(RepetitionFilter.off().verdict(t, 1)).isEqualTo(Verdict.KEEP);
        assertThat(RepetitionFilter.defaults().verdict(TrajectoryRecord.of(t, 1))).isEqualTo(Verdict.REPEATED_NGRAM);
    }

    @Test
    void aRunIsReportedBeforeAnNgram() {
        assertThat(RepetitionFilter.defaults().verdict(block(new int[] {1}, repeat(4, 16)), 1))
                .isEqualTo(Verdict.TOKEN_RUN);
    }

    @Test
    void validatesOptions() {
        assertThatThrownBy(() -> RepetitionFilter.defaults().withMaxRun(1)).hasMessageContaining("maxRun");
        assertThatThrownBy(() -> RepetitionFilter.defaults().withNgram(-1, 4)).hasMessageContaining("ngramSize");
        assertThatThrownBy(() -> RepetitionFilter.defaults().withNgram(4, 1)).hasMessageContaining("maxNgramRepeats");
        assertThat(RepetitionFilter.defaults()).isEqualTo(new RepetitionFilter(10, 4, 4, Set.of()));
    }
}
