package dev.cllm.api;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The reference token selection: sampled tokens follow the processed softmax (chi-square), consecutive positions
 * draw independent numbers, kept sets are respected, and greedy is the argmax after penalties.
 */
class TokenSelectorTest {
    private static final float[] LOGITS = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 3.0f, 1.5f, -0.5f};
    private static final int DRAWS = 40_000;
    /** Chi-square critical values at significance 0.001 by degrees of freedom (1..7). */
    private static final double[] CRITICAL_001 = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32};

    /** The probabilities {@code softmax(logits / t)} restricted to the k largest logits, renormalised. */
    private static double[] expected(double t, int k) {
        Integer[] order = new Integer[LOGITS.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Float.compare(LOGITS[b], LOGITS[a]));
        double[] p = new double[LOGITS.length];
        double sum = 0;
        for (int i = 0; i < k; i++) {
            p[order[i]] = Math.exp(LOGITS[order[i]] / t);
            sum += p[order[i]];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** Tokens sampled at {@code position} for seeds 0 .. DRAWS - 1, counted per id. */
    private static long[] sampleCounts(TokenSelector base, int position) {
        long[] counts = new long[LOGITS.length];
        int[] prefix = new int[position];
        for (long seed = 0; seed < DRAWS; seed++) {
            TokenSelector s = withSeed(base, seed);
            counts[s.select(LOGITS, 0, LOGITS.length, prefix, position, position)]++;
        }
        return counts;
    }

    private static TokenSelector withSeed(TokenSelector s, long seed) {
        return new TokenSelector(s.sample(), s.temperature(), s.topK(), s.topP(), s.minP(), s.repetitionPenalty(),
                s.presencePenalty(), s.frequencyPenalty(), seed, s.minNewTokens(), s.minNewTokensStopIds());
    }

    private static double chiSquare(long[] counts, double[] p) {
        double chi = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                double e = p[i] * DRAWS;
                chi += (counts[i] - e) * (counts[i] - e) / e;
            } else if (counts[i] > 0) {
                return Double.POSITIVE_INFINITY;   // a token the distribution excludes was sampled
            }
        }
        return chi;
    }

    private static TokenSelector sampling(double t, int k) {
        return new TokenSelector(true, t, k, 1.0, 0.0, 1.0, 0.0, 0.0, 0, 0, Set.of());
    }

    @Test
    void sampledTokensFollowTheProcessedSoftmaxAndAWrongTemperatureIsDetected() {
        double t = 0.8;
        int k = 5;
        long[] counts = sampleCounts(sampling(t, k), 17);
        int df = k - 1;
        assertThat(chiSquare(counts, expected(t, k))).as("chi-square against softmax(logits / %s), top-%d", t, k)
                .isLessThan(CRITICAL_001[df]);
        // the same draws tested against the distribution a bug would give: temperature applied twice, or ignored
        assertThat(chiSquare(counts, expected(t * t, k))).isGreaterThan(CRITICAL_001[df]);
        assertThat(chiSquare(counts, expected(1.0, k))).isGreaterThan(CRITICAL_001[df]);
        // and top-k off by one, either way
        assertThat(chiSquare(counts, expected(t, k - 1))).isGreaterThan(CRITICAL_001[df]);
        assertThat(chiSquare(counts, expected(t, k + 1))).isGreaterThan(CRITICAL_001[df + 1]);
    }

    @Test
    void consecutivePositionsDrawIndependentNumbers() {
        // an off-by-one that reused one position's number for the next would make the two tokens equal far more often
        TokenSelector s = sampling(1.0, 0);
        double[] p = expected(1.0, LOGITS.length);
        double sameByChance = 0;
        for (double q : p) {
            sameByChance += q * q;
        }
        int same = 0;
        int[] prefix = new int[40];
        for (long seed = 0; seed < DRAWS; seed++) {
            TokenSelector sel = withSeed(s, seed);
            int a = sel.select(LOGITS, 0, LOGITS.length, prefix, 30, 30);
            int b = sel.select(LOGITS, 0, LOGITS.length, prefix, 31, 30);
            same += a == b ? 1 : 0;
        }
        double expectedSame = sameByChance * DRAWS;
        double sd = Math.sqrt(DRAWS * sameByChance * (1 - sameByChance));
        assertThat((double) same).isBetween(expectedSame - 5 * sd, expectedSame + 5 * sd);
        // the noise depends on the position and the token: a fixed seed gives different numbers elsewhere
        assertThat(TokenSelector.uniform(7, 3, 5)).isNotEqualTo(TokenSelector.uniform(7, 4, 5))
                .isNotEqualTo(TokenSelector.uniform(7, 3, 6));
        assertThat(TokenSelector.uniform(7, 3, 5)).isEqualTo(TokenSelector.uniform(7, 3, 5)).isBetween(0.0, 1.0);
    }

    @Test
    void theNoiseIsUniform() {
        // 64 bins of u over many (position, token) pairs: chi-square with 63 degrees of freedom, p = 0.001 -> 103.4
        long[] bins = new long[64];
        int n = 0;
        for (int position = 0; position < 200; position++) {
            for (int token = 0; token < 500; token++) {
                bins[(int) (TokenSelector.uniform(11, position, token) * 64)]++;
                n++;
            }
        }
        double e = n / 64.0;
        double chi = 0;
        for (long b : bins) {
            chi += (b - e) * (b - e) / e;
        }
        assertThat(chi).isLessThan(103.4);
        assertThat(TokenSelector.mix32(0)).isZero();                 // lowbias32 fixes 0; tokenHash moves it
        assertThat(TokenSelector.tokenHash(0)).isNotZero();
    }

    @Provide
    Arbitrary<float[]> logits() {
        return Arbitraries.floats().between(-8, 8).array(float[].class).ofMinSize(2).ofMaxSize(40);
    }

    @Provide
    Arbitrary<TokenSelector> selectors() {
        return Combinators.combine(Arbitraries.doubles().between(0.05, 3), Arbitraries.integers().between(0, 10),
                        Arbitraries.doubles().between(0.05, 1.0), Arbitraries.doubles().between(0, 0.9),
                        Arbitraries.longs())
                .as((t, k, p, minP, seed) -> new TokenSelector(true, t, k, p, minP, 1.0, 0.0, 0.0, seed, 0, Set.of()));
    }

    @Property(tries = 500)
    void samplingNeverLeavesTheKeptSet(@ForAll("logits") float[] logits, @ForAll("selectors") TokenSelector s) {
        double[] x = new double[logits.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = logits[i];
        }
        double[] kept = s.keptProbabilities(x);
        int[] prefix = new int[8];
        for (int position = 0; position < 8; position++) {
            int t = s.select(logits, 0, logits.length, prefix, position, 0);
            assertThat(kept[t]).as("token %d at position %d", t, position).isGreaterThan(0);
            // top-k: nothing below the k-th largest logit; min-p: nothing below min_p times the best probability
            if (s.topK() > 0 && s.topK() < logits.length) {
                float[] sorted = logits.clone();
                java.util.Arrays.sort(sorted);
                assertThat(logits[t]).isGreaterThanOrEqualTo(sorted[logits.length - s.topK()]);
            }
        }
        double max = 0;
        double total = 0;
        for (double q : kept) {
            max = Math.max(max, q);
            total += q;
        }
        for (double q : kept) {
            assertThat(q == 0 || q >= s.minP() * max).isTrue();
        }
        // top-p: the kept mass reaches p of the whole (kept before min-p), and at least one token is kept
        assertThat(total).isGreaterThan(0);
    }

    @Test
    void greedyIsTheArgmaxAfterPenaltiesAndTheMinimumLength() {
        float[] logits = {1f, 5f, 4f, 2f};
        int[] prefix = {1, 1, 3};
        assertThat(TokenSelector.GREEDY.select(logits, 0, 4, prefix, 3, 1)).isEqualTo(1);
        // repetition penalty 2: token 1 (seen) drops to 2.5, token 2 (unseen) wins
        TokenSelector rep = new TokenSelector(false, 1, 0, 1, 0, 2.0, 0, 0, 0, 0, Set.of());
        assertThat(rep.select(logits, 0, 4, prefix, 3, 1)).isEqualTo(2);
        // presence/frequency count generated tokens only (from position 1): token 1 once, token 3 once
        TokenSelector freq = new TokenSelector(false, 1, 0, 1, 0, 1.0, 0.0, 3.0, 0, 0, Set.of());
        assertThat(freq.select(logits, 0, 4, prefix, 3, 1)).isEqualTo(2);
        // minimum length: the stop id 1 is suppressed until two tokens are generated
        TokenSelector min = new TokenSelector(false, 1, 0, 1, 0, 1, 0, 0, 0, 3, Set.of(1));
        assertThat(min.select(logits, 0, 4, prefix, 3, 1)).isEqualTo(2);
        assertThat(min.select(logits, 0, 4, new int[]{0, 1, 1, 3, 2}, 5, 1)).isEqualTo(1);
        assertThat(TokenSelector.GREEDY.isGreedyArgmax()).isTrue();
        assertThat(rep.isGreedyArgmax()).isFalse();
    }

    @Test
    void invalidSettingsNameTheField() {
        assertThatThrownBy(() -> new TokenSelector(true, 0, 0, 1, 0, 1, 0, 0, 0, 0, Set.of()))
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> new TokenSelector(true, 1, -1, 1, 0, 1, 0, 0, 0, 0, Set.of()))
                .hasMessageContaining("top_k");
        assertThatThrownBy(() -> new TokenSelector(true, 1, 0, 0, 0, 1, 0, 0, 0, 0, Set.of()))
                .hasMessageContaining("top_p");
        assertThatThrownBy(() -> new TokenSelector(true, 1, 0, 1, 2, 1, 0, 0, 0, 0, Set.of()))
                .hasMessageContaining("min_p");
        assertThatThrownBy(() -> new TokenSelector(true, 1, 0, 1, 0, 0, 0, 0, 0, 0, Set.of()))
                .hasMessageContaining("repetition_penalty");
    }
}
