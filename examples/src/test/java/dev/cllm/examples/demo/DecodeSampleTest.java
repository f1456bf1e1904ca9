package dev.cllm.examples.demo;

import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The demo's token and pass counts: prefill excluded, stop token counted, so ar is exactly one token per pass. */
class DecodeSampleTest {
    private static Generation generation(int newTokens, int forwardPasses, StopReason stop) {
        return new Generation(TokenIds.of(1), TokenIds.of(new int[newTokens]), null, stop,
                new DecodingStats(1, newTokens, forwardPasses, Math.max(0, forwardPasses - 1), 0, 0, List.of(),
                        List.of(), 100, 900));
    }

    @Test
    void arStoppedByEosIsOneTokenPerDecodingPass() {
        // prefill -> token 1; passes 1..6 -> tokens 2..7 and EOS
        DecodeSample s = DecodeSample.of(generation(7, 8, StopReason.STOP_TOKEN));
        assertThat(s.decodedTokens()).isEqualTo(7);
        assertThat(s.decodingPasses()).isEqualTo(7);
        assertThat(s.tokensPerPass()).isEqualTo(1.0);
        assertThat(s.decodeNanos()).isEqualTo(900);
        assertThat(s.elapsedNanos()).isEqualTo(1000);
    }

    @Test
    void arStoppedByTheBudgetIsOneTokenPerDecodingPass() {
        DecodeSample s = DecodeSample.of(generation(64, 64, StopReason.MAX_NEW_TOKENS));
        assertThat(s.decodedTokens()).isEqualTo(63);
        assertThat(s.tokensPerPass()).isEqualTo(1.0);
    }

    @Test
    void aStopTokenFromThePrefillLeavesNothingToDecode() {
        DecodeSample s = DecodeSample.of(generation(0, 1, StopReason.STOP_TOKEN));
        assertThat(s.decodedTokens()).isZero();
        assertThat(s.decodingPasses()).isZero();
        assertThat(s.tokensPerPass()).isZero();
    }

    @Test
    void theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        assertThat(DemoRun.median(new double[]{3, 1, 2})).isEqualTo(2);
        assertThat(DemoRun.median(new double[]{4, 1, 3, 2})).isEqualTo(2.5);
        assertThat(DemoRun.median(new double[0])).isZero();
    }
}
