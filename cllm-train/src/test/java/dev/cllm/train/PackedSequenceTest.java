package dev.cllm.train;

import dev.cllm.api.TokenIds;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packed Jacobi Forcing sequence against the layout's definitions: positions, the noise-conditioned mask, and the
 * pairs each loss term reads, on random layouts.
 */
class PackedSequenceTest {

    /** Where token i of a packed sequence lies: the context, or offset r of noisy_j or clean_j. */
    private record Segment(String kind, int j, int r) {
        static Segment of(int i, int p, int n) {
            if (i < p) {
                return new Segment("context", -1, i);
            }
            int b = (i - p) / n;
            return new Segment(b % 2 == 0 ? "noisy" : "clean", b / 2, (i - p) % n);
        }
    }

    /** A random answer: context, noisy and clean blocks over a small vocabulary (so that copies often agree). */
    private record Layout(TokenIds context, int promptLength, List<TokenIds> noisy, List<TokenIds> clean, int stop) {
        static Layout random(long seed, int p, int n, int t) {
            SplittableRandom rng = new SplittableRandom(seed);
            List<TokenIds> noisy = new ArrayList<>();
            List<TokenIds> clean = new ArrayList<>();
            for (int j = 0; j < t; j++) {
                int[] y = rng.ints(n, 3, 7).toArray();
                int[] s = y.clone();
                for (int r = rng.nextInt(n + 1); r < n; r++) {
                    s[r] = rng.nextInt(3, 7);   // a correct prefix, then guesses
                }
                noisy.add(TokenIds.of(s));
                clean.add(TokenIds.of(y));
            }
            int stop = rng.nextBoolean() ? n : rng.nextInt(n);
            return new Layout(TokenIds.of(rng.ints(p, 3, 50).toArray()), rng.nextInt(p + 1), noisy, clean, stop);
        }

        PackedSequence pack() {
            return PackedSequence.of(context, promptLength, noisy, clean, stop);
        }
    }

    /** The noise-conditioned mask, from its definition. */
    private static boolean expected(Segment q, Segment k, int qi, int ki) {
        if (ki > qi) {
            return false;
        }
        if (k.kind().equals("context")) {
            return true;
        }
        if (q.kind().equals("context") || !q.kind().equals(k.kind())) {
            return false;   // the context sees only itself; noisy never sees clean, clean never sees noisy
        }
        return k.j() < q.j() || k.j() == q.j() && k.r() <= q.r();
    }

    @Property(tries = 300)
    void theMaskIsNoiseConditionedAndPositionsAreWhereTheTokensSitInTheAnswer(
            @ForAll long seed, @ForAll @IntRange(min = 1, max = 6) int p, @ForAll @IntRange(min = 1, max = 5) int n,
            @ForAll @IntRange(min = 1, max = 4) int t) {
        Layout layout = Layout.random(seed, p, n, t);
        PackedSequence s = layout.pack();
        int length = p + 2 * t * n;
        assertThat(s.length()).isEqualTo(length);
        int offset = 3;
        int width = length + 5;
        byte[] mask = new byte[width * width];
        s.writeMask(mask, width, offset);
        for (int q = 0; q < length; q++) {
            Segment sq = Segment.of(q, p, n);
            assertThat(s.position(q)).as("position of %s", sq)
                    .isEqualTo(sq.kind().equals("context") ? q : p + sq.j() * n + sq.r());
            assertThat(s.id(q)).isEqualTo(switch (sq.kind()) {
                case "context" -> layout.context().get(q);
                case "noisy" -> layout.noisy().get(sq.j()).get(sq.r());
                default -> layout.clean().get(sq.j()).get(sq.r());
            });
            for (int k = 0; k < length; k++) {
                boolean allowed = expected(sq, Segment.of(k, p, n), q, k);
                assertThat(s.attends(q, k)).as("%s attends to %s", sq, Segment.of(k, p, n)).isEqualTo(allowed);
                assertThat(mask[(offset + q) * width + offset + k]).isEqualTo((byte) (allowed ? 1 : 0));
            }
        }
        // nothing written outside the sequence's own square
        int inside = 0;
        for (byte b : mask) {
            inside += b;
        }
        int allowedCount = 0;
        for (int q = 0; q < length; q++) {
            for (int k = 0; k < length; k++) {
                allowedCount += s.attends(q, k) ? 1 : 0;
            }
        }
        assertThat(inside).isEqualTo(allowedCount);
    }

    /** The tokens token {@code q} attends to, ordered by position; asserts that they sit at positions 0..pos(q). */
    private static int[] visible(PackedSequence s, int q) {
        int[] byPosition = new int[s.position(q) + 1];
        Arrays.fill(byPosition, -1);
        for (int k = 0; k <= q; k++) {
            if (s.attends(q, k)) {
                assertThat(byPosition[s.position(k)]).as("two visible tokens at position %s", s.position(k))
                        .isEqualTo(-1);
                byPosition[s.position(k)] = s.id(k);
            }
        }
        assertThat(byPosition).as("token %s sees every position up to its own", q).doesNotContain(-1);
        return byPosition;
    }

    private static int[] concat(TokenIds context, List<TokenIds> blocks) {
        TokenIds all = context;
        for (TokenIds b : blocks) {
            all = all.concat(b);
        }
        return all.toArray();
    }

    @Property(tries = 300)
    void eachLossReadsWhatItsDefinitionSays(@ForAll long seed, @ForAll @IntRange(min = 1, max = 6) int p,
                                            @ForAll @IntRange(min = 1, max = 5) int n,
                                            @ForAll @IntRange(min = 1, max = 4) int t) {
        Layout layout = Layout.random(seed, p, n, t);
        PackedSequence s = layout.pack();
        int[] cleanStream = concat(layout.context(), layout.clean());   // what greedy decoding read
        int[] noisyStream = concat(layout.context(), layout.noisy());

        // consistency: per block, offsets d_j .. n-1 (in a last block with a stop token at s: .. s-1)
        List<String> expectedPairs = new ArrayList<>();
        for (int j = 0; j < t; j++) {
            int d = 0;
            while (d < n && layout.noisy().get(j).get(d) == layout.clean().get(j).get(d)) {
                d++;
            }
            int last = j == t - 1 && layout.stop() < n ? layout.stop() - 1 : n - 1;
            for (int r = d; r <= last; r++) {
                expectedPairs.add(j + ":" + r);
            }
        }
        int[] students = s.students();
        int[] teachers = s.teachers();
        List<String> pairs = new ArrayList<>();
        for (int i = 0; i < students.length; i++) {
            Segment a = Segment.of(students[i], p, n);
            Segment b = Segment.of(teachers[i], p, n);
            assertThat(a.kind()).isEqualTo("noisy");
            assertThat(b.kind()).isEqualTo("clean");
            assertThat(a.j() + ":" + a.r()).isEqualTo(b.j() + ":" + b.r());
            pairs.add(a.j() + ":" + a.r());
            // the student reads the noisy answer, the teacher the greedy one, up to the same position
            int[] studentSees = visible(s, students[i]);
            int[] teacherSees = visible(s, teachers[i]);
            assertThat(studentSees).containsExactly(Arrays.copyOf(noisyStream, studentSees.length));
            assertThat(teacherSees).containsExactly(Arrays.copyOf(cleanStream, teacherSees.length));
        }
        assertThat(pairs).containsExactlyElementsOf(expectedPairs);
        assertThat(s.consistencyPositions()).isEqualTo(expectedPairs.size());
        assertThat(s.consistencyWeight()).isEqualTo(1.0 / t);

        // AR: every next-token pair of prompt + answer up to and including a stop token, each read after the greedy
        // prefix
        int end = p + (t - 1) * n + Math.min(layout.stop() + 1, n);   // tokens of the clean stream that count
        assertArPairs(s, cleanStream, layout.promptLength(), p, end);
        assertThat(s.inputTokens()).isEqualTo(p + 2L * t * n);
    }

    /**
     * Each AR pair of {@code s} reads a prefix of {@code stream} and predicts the token after it, and the predicted
     * tokens are those at 1..promptLength-1 and from..to-1 of the stream, each once.
     */
    private static void assertArPairs(PackedSequence s, int[] stream, int promptLength, int from, int to) {
        List<Integer> targetPositions = new ArrayList<>();
        int[] logits = s.arLogits();
        int[] targets = s.arTargets();
        for (int i = 0; i < logits.length; i++) {
            int[] seen = visible(s, logits[i]);
            assertThat(seen).containsExactly(Arrays.copyOf(stream, seen.length));
            assertThat(targets[i]).isEqualTo(stream[seen.length]);
            targetPositions.add(seen.length);
        }
        List<Integer> expectedTargets = new ArrayList<>();
        for (int i = 1; i < promptLength; i++) {
            expectedTargets.add(i);
        }
        for (int i = from; i < to; i++) {
            expectedTargets.add(i);
        }
        assertThat(targetPositions).containsExactlyInAnyOrderElementsOf(expectedTargets);
        assertThat(s.arPositions()).isEqualTo(expectedTargets.size());
    }

    @Property(tries = 300)
    void aGroundTruthSegmentChangesOnlyTheArTermWhichThenReadsPromptPlusGroundTruth(
            @ForAll long seed, @ForAll @IntRange(min = 1, max = 6) int p, @ForAll @IntRange(min = 1, max = 5) int n,
            @ForAll @IntRange(min = 1, max = 4) int t, @ForAll @IntRange(min = 1, max = 7) int a) {
        Layout layout = Layout.random(seed, p, n, t);
        TokenIds gold = TokenIds.of(new SplittableRandom(seed + 1).ints(a, 3, 50).toArray());
        PackedSequence plain = layout.pack();
        PackedSequence s = PackedSequence.of(layout.context(), layout.promptLength(), layout.noisy(), layout.clean(),
                layout.stop(), gold, false);
        int goldStart = p + 2 * t * n;
        int length = goldStart + a - 1;
        assertThat(s.length()).isEqualTo(length);
        assertThat(s.goldStart()).isEqualTo(goldStart);
        assertThat(plain.goldStart()).isEqualTo(plain.length());
        int width = length + 2;
        byte[] mask = new byte[width * width];
        s.writeMask(mask, width, 1);
        for (int q = 0; q < length; q++) {
            if (q < goldStart) {
                assertThat(s.id(q)).isEqualTo(plain.id(q));
                assertThat(s.position(q)).isEqualTo(plain.position(q));
            } else {
                assertThat(s.id(q)).isEqualTo(gold.get(q - goldStart));
                assertThat(s.position(q)).isEqualTo(p + q - goldStart);
            }
            for (int k = 0; k < length; k++) {
                boolean allowed = q < goldStart && k < goldStart ? plain.attends(q, k)
                        : k <= q && (k < p || k >= goldStart);
                assertThat(s.attends(q, k)).as("%s attends to %s", q, k).isEqualTo(allowed);
                assertThat(mask[(1 + q) * width + 1 + k]).isEqualTo((byte) (allowed ? 1 : 0));
            }
        }
        // the consistency term is the plain one
        assertThat(s.students()).containsExactly(plain.students());
        assertThat(s.teachers()).containsExactly(plain.teachers());

        // AR: the prompt's pairs, then every next-token pair of context + ground truth, each read after its prefix
        assertArPairs(s, layout.context().concat(gold).toArray(), layout.promptLength(), p, p + a);
        assertThat(s.inputTokens()).isEqualTo(length);

        // a later part of an answer whose ground truth an earlier part scores: the prompt's pairs only
        PackedSequence none = PackedSequence.of(layout.context(), layout.promptLength(), layout.noisy(),
                layout.clean(), layout.stop(), TokenIds.empty(), false);
        assertThat(none.arPositions()).isEqualTo(Math.max(0, layout.promptLength() - 1));
        assertThat(none.students()).containsExactly(plain.students());
    }

    @Test
    void aGroundTruthAndTheCleanCopiesAreNotBothScored() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PackedSequence.of(TokenIds.of(1, 7), 2,
                        List.of(TokenIds.of(9, 5)), List.of(TokenIds.of(9, 4)), 2, TokenIds.of(9, 2), true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not both");
    }

    @Test
    void theAuthorsExampleLayout() {
        // context [1 7 8], n = 2, T = 2: noisy_0 = [9 5] vs clean_0 [9 4] differ from offset 1; noisy_1 = clean_1
        PackedSequence s = PackedSequence.of(TokenIds.of(1, 7, 8), 3, List.of(TokenIds.of(9, 5), TokenIds.of(6, 2)),
                List.of(TokenIds.of(9, 4), TokenIds.of(6, 2)), 1);
        assertThat(s.length()).isEqualTo(11);
        long[] positions = new long[11];
        for (int i = 0; i < 11; i++) {
            positions[i] = s.position(i);
        }
        assertThat(positions).containsExactly(0, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6);
        assertThat(s.students()).containsExactly(4);          // noisy_0 offset 1; block 1 agrees everywhere
        assertThat(s.teachers()).containsExactly(6);
        assertThat(s.arLogits()).containsExactly(0, 1, 2, 5, 6, 9);   // the stop token 2 at clean_1[1] included
        assertThat(s.arTargets()).containsExactly(7, 8, 9, 4, 6, 2);
    }
}
