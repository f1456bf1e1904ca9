package dev.cllm.jacobi;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link WindowChoice}: the window lengths it tries, its epochs, and that it settles on the best rate. */
class WindowChoiceTest {

    @Test
    void triesNoWindowAQuarterHalfAndAWholeBlockThenEachFurtherBlock() {
        assertThat(new WindowChoice(16, 1).lengths()).containsExactly(0, 3, 7, 15);
        assertThat(new WindowChoice(8, 1).lengths()).containsExactly(0, 1, 3, 7);
        assertThat(new WindowChoice(8, 3).lengths()).containsExactly(0, 1, 3, 7, 15, 23);
        assertThat(new WindowChoice(1, 1).lengths()).containsExactly(0, 1);
    }

    @Test
    void keepsALengthForAnEpochAndTriesEveryLengthOnceShortestFirst() {
        WindowChoice choice = new WindowChoice(16, 1);
        SplittableRandom rng = new SplittableRandom(1);
        choice.record(5, 1.0);                                   // before any choice: nothing to judge, ignored
        assertThat(choice.rates()).containsOnly(Double.NaN);
        int[] expected = {0, 3, 7, 15};
        for (int length : expected) {
            for (int pass = 0; pass < WindowChoice.EPOCH; pass++) {
                assertThat(choice.choose(64, rng)).isEqualTo(length);
                choice.record(2, 1.0);
            }
        }
        assertThat(choice.rates()).containsExactly(2.0, 2.0, 2.0, 2.0);
        assertThat(choice.choose(5, rng)).isLessThanOrEqualTo(5); // capped by the room left
    }

    @Test
    void settlesOnTheLengthWithTheMostTokensPerUnitOfPassTime() {
        // tokens accepted per pass and cost of a pass (in single-token passes) per length: 7 guesses pay best (2.0 per
        // unit of time), the whole block accepts the most per pass but costs more than it adds (1.6)
        int[] lengths = {0, 3, 7, 15};
        double[] accepted = {1.0, 2.4, 3.6, 4.0};
        double[] cost = {1.0, 1.3, 1.8, 2.5};
        WindowChoice choice = new WindowChoice(16, 1);
        SplittableRandom rng = new SplittableRandom(7);
        SplittableRandom noise = new SplittableRandom(11);
        int best = 0;
        int late = 0;
        for (int epoch = 0; epoch < 300; epoch++) {
            int length = 0;
            for (int pass = 0; pass < WindowChoice.EPOCH; pass++) {
                length = choice.choose(64, rng);
                int a = Arrays.binarySearch(lengths, length);
                // whole accepted tokens around the mean, and a pass time that jitters by 10%
                int tokens = (int) Math.floor(accepted[a] + noise.nextDouble());
                choice.record(tokens, cost[a] * (0.9 + 0.2 * noise.nextDouble()));
            }
            if (epoch >= 200) {
                late++;
                best += length == 7 ? 1 : 0;
            }
        }
        assertThat(best).as("epochs of the last 100 that ran the best length").isGreaterThan(late * 8 / 10);
        double[] rates = choice.rates();
        assertThat(rates[2]).isGreaterThan(rates[3]).isGreaterThan(rates[0]);
    }
}
