package dev.cllm.jacobi;

import dev.cllm.api.DecodingStats;
import dev.cllm.api.TokenIds;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The paper's statistics on hand-made trajectories and a hand-traced generation. */
class StatsRecorderTest {

    @Test
    void aTokenThatIsRightBehindAWrongOneAndStaysRightIsStationary() {
        List<TokenIds> trajectory = List.of(
                TokenIds.of(5, 9, 7, 1),   // position 2 already right while position 1 is wrong ...
                TokenIds.of(5, 6, 7, 3),   // ... and it stays right
                TokenIds.of(5, 6, 7, 8));  // fixed point
        assertThat(StatsRecorder.stationaryTokens(trajectory)).isEqualTo(1);
    }

    @Test
    void aTokenThatIsRightThenChangesIsNotStationary() {
        List<TokenIds> trajectory = List.of(
                TokenIds.of(5, 9, 7, 1),
                TokenIds.of(5, 6, 2, 3),   // position 2 lost its right value
                TokenIds.of(5, 6, 7, 8));
        assertThat(StatsRecorder.stationaryTokens(trajectory)).isZero();
    }

    @Test
    void tokensFixedInOrderAreNotStationary() {
        List<TokenIds> trajectory = List.of(
                TokenIds.of(5, 0, 0, 0),
                TokenIds.of(5, 6, 0, 0),
                TokenIds.of(5, 6, 7, 0),
                TokenIds.of(5, 6, 7, 8));
        assertThat(StatsRecorder.stationaryTokens(trajectory)).isZero();
    }

    @Test
    void countsOnAHandTracedGeneration() {
        // attractor 0 predicts itself: a prompt ending in 0 continues 0, 0, 0, ...; REPEAT_LAST guesses 0s, so each
        // block of 4 converges in one pass: 4 tokens accepted per pass
        FakeModel model = new FakeModel(10, 64, Set.of(), 1, 7, 0);
        JacobiDecoder decoder = JacobiDecoder.builder().blockSize(4).maxNewTokens(9).noStop()
                .initializer(BlockInitializer.REPEAT_LAST).build();
        DecodingStats s = decoder.generate(model, TokenIds.of(3, 0)).stats();
        // prefill gives token 1; blocks of 4 and 4 give 8 more (the second block is cut to the budget: 4)
        assertThat(s.newTokens()).isEqualTo(9);
        assertThat(s.forwardPasses()).isEqualTo(3);
        assertThat(s.tokensPerPass()).isEqualTo(3.0);
        assertThat(s.fastForwarded()).isEqualTo(6);
        assertThat(s.acceptedHistogram()).containsExactly(0, 1, 0, 0, 2);
        assertThat(s.blocks()).isEqualTo(2);
        assertThat(s.meanIterationsPerBlock()).isEqualTo(1.0);
        assertThat(s.stationary()).isZero();
    }
}
