package dev.cllm.data;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Random, valid {@link TrajectoryRecord}s for property tests. */
final class RecordArbitraries {

    private RecordArbitraries() {
    }

    /** Any valid record, optional fields present or not. */
    static Arbitrary<TrajectoryRecord> records() {
        return Combinators.combine(Arbitraries.longs().between(0, Long.MAX_VALUE),
                        Arbitraries.integers().between(0, 40),
                        Arbitraries.integers().between(1, 30), Arbitraries.integers().between(1, 20),
                        Arbitraries.integers().between(1, 8), Arbitraries.longs(),
                        Arbitraries.integers().between(0, 7))
                .as((promptIndex, block, contextLength, n, stateCount, seed, options) -> {
                    Random r = new Random(seed);
                    return record(r, promptIndex, block, contextLength, n, stateCount, options);
                });
    }

    /** One record; {@code options} bits: 1 answer or labels, 2 complete teacher output, 4 augmented. */
    static TrajectoryRecord record(Random r, long promptIndex, int block, int contextLength, int n, int stateCount,
                                   int options) {
        TokenIds context = ids(r, contextLength, 1 + r.nextInt(100_000));
        List<TokenIds> states = new ArrayList<>();
        for (int i = 0; i < stateCount; i++) {
            states.add(ids(r, n, 1 + r.nextInt(1000)));
        }
        int promptLength = 1 + r.nextInt(contextLength);
        TokenIds answer = TokenIds.empty();
        TokenIds labels = TokenIds.empty();
        if ((options & 1) != 0) {
            if (r.nextBoolean()) {
                answer = ids(r, 1 + r.nextInt(10), 500);
            } else {
                // verbatim labels that are not the prompt followed by more tokens
                labels = ids(r, 1 + r.nextInt(10), 500);
                if (TrajectoryRecord.isPromptPlusAnswer(labels, context, promptLength)) {
                    labels = TokenIds.of(Integer.MAX_VALUE);
                }
            }
        }
        TokenIds complete = (options & 2) != 0 ? ids(r, 1 + r.nextInt(20), 500) : TokenIds.empty();
        Trajectory t = new Trajectory(promptIndex, block, context, states, answer);
        return new TrajectoryRecord(t, promptLength, labels, complete, (options & 4) != 0);
    }

    static TokenIds ids(Random r, int length, int bound) {
        int[] a = new int[length];
        for (int i = 0; i < length; i++) {
            a[i] = r.nextInt(20) == 0 ? Integer.MAX_VALUE - r.nextInt(3) : r.nextInt(bound);
        }
        return TokenIds.of(a);
    }
}
