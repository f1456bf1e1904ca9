package dev.cllm.jacobi;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrajectoryCollector;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Arbitrary;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** Trajectories are exact full-block Jacobi trajectories and their fixed points are the greedy output. */
class TrajectoryCollectorTest {

    @Provide
    Arbitrary<JacobiPropertiesTest.Scenario> scenarios() {
        return new JacobiPropertiesTest().scenarios();
    }

    @Property(tries = 300)
    void trajectoriesAreFullBlockJacobiAndTheirFixedPointsTheGreedyOutput(
            @ForAll("scenarios") JacobiPropertiesTest.Scenario s) {
        int n = Math.max(2, s.blockSize());
        FakeModel model = s.model();
        JacobiTrajectoryCollector collector = JacobiTrajectoryCollector.builder().blockSize(n)
                .maxNewTokens(s.maxNewTokens()).initializer(s.initializer()).seed(s.salt()).build();
        Prompt prompt = new Prompt(3, TokenIds.of(s.prompt()), TokenIds.of(1, 2));
        try (DecodingSession session = model.newSession(model.config().contextLength())) {
            if (s.prompt().length + n >= session.capacity()) {
                return; // the collector refuses prompts without room for a block
            }
            TrajectoryCollector.Result result = collector.collect(session, prompt);
            int[] greedy = model.greedy(s.prompt(), 1 << 16, Set.of());   // no stop: what blocks converge to
            TokenIds expectedContext = prompt.ids();
            int block = 0;
            for (Trajectory t : result.trajectories()) {
                assertThat(t.promptIndex()).isEqualTo(3);
                assertThat(t.block()).isEqualTo(block++);
                assertThat(t.answer()).isEqualTo(TokenIds.of(1, 2));
                assertThat(t.context()).isEqualTo(expectedContext);
                int offset = expectedContext.size() - s.prompt().length;
                assertThat(t.fixedPoint().toArray())
                        .containsExactly(Arrays.copyOfRange(greedy, offset, offset + n));
                List<TokenIds> states = t.states();
                for (TokenIds state : states) {
                    assertThat(state.size()).isEqualTo(n);
                    assertThat(state.get(0)).isEqualTo(t.fixedPoint().get(0));
                }
                for (int j = 0; j + 1 < states.size(); j++) {
                    assertThat(states.get(j + 1)).isEqualTo(jacobiUpdate(model, t.context(), states.get(j)));
                    assertThat(t.correctPrefix(states.get(j + 1))).isGreaterThanOrEqualTo(t.correctPrefix(states.get(j)));
                }
                assertThat(jacobiUpdate(model, t.context(), t.fixedPoint())).isEqualTo(t.fixedPoint());
                expectedContext = t.teacherOutput();
            }
        }
    }

    /** One step of full-block Jacobi decoding without a cache: y'[0] = y[0], y'[i] = next(context + y[0..i)). */
    static TokenIds jacobiUpdate(FakeModel model, TokenIds context, TokenIds state) {
        int[] seq = context.concat(state).toArray();
        int[] out = state.toArray();
        for (int i = 1; i < out.length; i++) {
            out[i] = model.next(seq, context.size() + i);
        }
        return TokenIds.of(out);
    }
}
