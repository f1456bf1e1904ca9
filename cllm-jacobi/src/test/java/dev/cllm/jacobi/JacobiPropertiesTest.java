package dev.cllm.jacobi;

import dev.cllm.api.DraftTree;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** Jacobi decoding is lossless and never slower in passes than AR, on random fake models and settings. */
class JacobiPropertiesTest {

    /** One random scenario. */
    record Scenario(int vocab, int order, long salt, boolean attractor, int[] prompt, int blockSize,
                    int maxNewTokens, Set<Integer> stops, int contextSlack, int init) {

        FakeModel model() {
            int context = prompt.length + contextSlack;
            return new FakeModel(vocab, context, stops, order, salt, attractor ? 0 : -1);
        }

        BlockInitializer initializer() {
            return switch (init) {
                case 0 -> BlockInitializer.CONTEXT_SAMPLE;
                case 1 -> BlockInitializer.REPEAT_LAST;
                default -> BlockInitializer.constant(0);
            };
        }
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Integer> vocab = Arbitraries.integers().between(2, 60);
        return vocab.flatMap(v -> Combinators.combine(
                        Arbitraries.integers().between(1, 3),
                        Arbitraries.longs(),
                        Arbitraries.of(true, false),
                        Arbitraries.integers().between(0, v - 1).array(int[].class).ofMinSize(1).ofMaxSize(20),
                        Arbitraries.integers().between(1, 40),
                        Arbitraries.integers().between(1, 120),
                        Arbitraries.integers().between(0, v - 1).set().ofMaxSize(2),
                        Arbitraries.integers().between(1, 150))
                .as((order, salt, attractor, prompt, n, max, stops, slack) ->
                        new Scenario(v, order, salt, attractor, prompt, n, max, stops, slack, Math.floorMod(salt, 3))));
    }

    /**
     * The most a model can fast-forward when its guesses start wrong: one that predicts every token right whatever its
     * inputs takes exactly two passes per block of n (the first accepts one token, the Jacobi update then holds the
     * whole block right, the second accepts it and the token after it), and one pass for a last block whose first
     * guess is the stop token. So an answer of m tokens and its stop token, m decoded tokens after the prefill's,
     * takes 2 floor((m-1)/n) + (1 if (m-1) mod n == 0 else 2) decoding passes: at most n/2 tokens per pass, less on
     * short answers (docs/training.md uses it to bound tokens per pass on the SQL answers).
     */
    @Property(tries = 300)
    void aModelRightFromAnyGuessTakesTwoPassesPerBlock(@ForAll @IntRange(min = 2, max = 16) int n,
                                                       @ForAll @IntRange(min = 1, max = 40) int m,
                                                       @ForAll @IntRange(min = 1, max = 8) int promptLength) {
        int eos = 2;
        int[] prompt = new int[promptLength];
        int[] answer = new int[m];
        for (int i = 0; i < promptLength; i++) {
            prompt[i] = 3 + i;
        }
        for (int i = 0; i < m; i++) {
            answer[i] = 100 + i;   // distinct, and none in the prompt: guesses drawn from the context are all wrong
        }
        int[] script = new int[promptLength + m + 1];
        System.arraycopy(prompt, 0, script, 0, promptLength);
        System.arraycopy(answer, 0, script, promptLength, m);
        script[promptLength + m] = eos;
        FakeModel model = FakeModel.scripted(160, 128, Set.of(eos), script);
        Generation g = JacobiDecoder.builder().blockSize(n).maxNewTokens(64).build().generate(model,
                TokenIds.of(prompt));
        assertThat(g.ids().toArray()).containsExactly(answer);
        assertThat(g.stopReason()).isEqualTo(StopReason.STOP_TOKEN);
        int decodingPasses = g.stats().forwardPasses() - 1;
        assertThat(decodingPasses).as("passes after the prefill, n = %s, m = %s", n, m)
                .isEqualTo(2 * ((m - 1) / n) + ((m - 1) % n == 0 ? 1 : 2));
    }

    @Property(tries = 400)
    void jacobiOutputEqualsGreedyAutoregressiveOutput(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(s.blockSize()).maxNewTokens(s.maxNewTokens())
                .initializer(s.initializer()).seed(s.salt()).build();
        Generation g = jacobi.generate(model, TokenIds.of(s.prompt()));
        int[] expected = model.greedy(s.prompt(), s.maxNewTokens(), s.stops());
        assertThat(g.ids().toArray()).containsExactly(expected);

        Generation ar = JacobiDecoder.autoregressive(s.maxNewTokens()).generate(model, TokenIds.of(s.prompt()));
        assertThat(ar.ids()).isEqualTo(g.ids());
        assertThat(ar.stopReason()).isEqualTo(g.stopReason());
    }

    @Property(tries = 400)
    void passesNeverExceedTokensAndEachIterationAcceptsAtLeastOne(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        List<JacobiIteration> iterations = new ArrayList<>();
        List<JacobiBlock> blocks = new ArrayList<>();
        JacobiListener recorder = new JacobiListener() {
            @Override
            public void onIteration(JacobiIteration iteration) {
                iterations.add(iteration);
            }

            @Override
            public void onBlock(JacobiBlock block) {
                blocks.add(block);
            }
        };
        JacobiDecoder decoder = JacobiDecoder.builder().blockSize(s.blockSize()).maxNewTokens(s.maxNewTokens())
                .initializer(s.initializer()).build();
        Generation g = decoder.generate(model, TokenIds.of(s.prompt()), recorder);
        DecodingStats stats = g.stats();

        assertThat(model.forwardCalls.get()).isEqualTo(stats.forwardPasses());
        boolean cut = g.stopReason() == StopReason.STOP_TOKEN;
        assertThat(stats.forwardPasses()).isLessThanOrEqualTo(stats.newTokens() + (cut ? 1 : 0));
        if (!cut) {
            assertThat(stats.newTokens()).isEqualTo(stats.forwardPasses() + stats.fastForwarded());
        }
        for (JacobiIteration it : iterations) {
            assertThat(it.accepted()).isBetween(1, it.before().size() - it.fixedBefore() + 1);
            assertThat(it.before().size()).isLessThanOrEqualTo(s.blockSize());
        }
        for (JacobiBlock b : blocks) {
            assertThat(b.passes()).isBetween(1, b.size());
            for (TokenIds state : b.trajectory()) {
                assertThat(state.size()).isEqualTo(b.size());
            }
        }
        assertThat(stats.acceptedHistogram().stream().mapToInt(Integer::intValue).sum())
                .isEqualTo(stats.forwardPasses());
    }

    @Property(tries = 300)
    void trajectoriesEndAtTheFixedPointAndTheirCorrectPrefixNeverShrinks(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        List<JacobiBlock> blocks = new ArrayList<>();
        JacobiDecoder decoder = JacobiDecoder.builder().blockSize(s.blockSize()).maxNewTokens(s.maxNewTokens())
                .initializer(s.initializer()).noStop().build();
        Generation g = decoder.generate(model, TokenIds.of(s.prompt()), new JacobiListener() {
            @Override
            public void onBlock(JacobiBlock block) {
                blocks.add(block);
            }
        });
        int[] full = TokenIds.of(s.prompt()).concat(g.ids()).toArray();
        for (JacobiBlock b : blocks) {
            if (!b.converged()) {
                continue;
            }
            int start = b.position();
            int[] expected = java.util.Arrays.copyOfRange(full, start, start + b.size());
            assertThat(b.lastState().toArray()).as("fixed point of block %d", b.index()).containsExactly(expected);
            int previous = 0;
            for (TokenIds state : b.trajectory()) {
                int correct = 0;
                while (correct < state.size() && state.get(correct) == expected[correct]) {
                    correct++;
                }
                assertThat(correct).isGreaterThanOrEqualTo(previous);
                previous = correct;
            }
            for (int j = 1; j < b.trajectory().size(); j++) {
                assertThat(b.trajectory().get(j)).isNotEqualTo(b.trajectory().get(j - 1));
            }
        }
    }

    @Property(tries = 300)
    void completingBlocksAfterAStopTokenChangesNothingButTheLastBlock(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        JacobiDecoder plain = JacobiDecoder.builder().blockSize(s.blockSize()).maxNewTokens(s.maxNewTokens()).build();
        List<JacobiBlock> blocks = new ArrayList<>();
        Generation complete = plain.toBuilder().completeBlocks(true).build().generate(model, TokenIds.of(s.prompt()),
                new JacobiListener() {
                    @Override
                    public void onBlock(JacobiBlock block) {
                        blocks.add(block);
                    }
                });
        Generation g = plain.generate(model, TokenIds.of(s.prompt()));
        assertThat(complete.ids()).isEqualTo(g.ids());
        assertThat(complete.stopReason()).isEqualTo(g.stopReason());
        if (g.stopReason() == StopReason.STOP_TOKEN && !blocks.isEmpty()) {
            assertThat(blocks.get(blocks.size() - 1).converged()).isTrue();
        }
    }

    @Property(tries = 300)
    void aPassForwardsNoGuessAfterAGuessedStopTokenUnlessWholeBlocksAreWanted(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        JacobiDecoder trimmed = JacobiDecoder.builder().blockSize(s.blockSize()).maxNewTokens(s.maxNewTokens())
                .initializer(s.initializer()).seed(s.salt()).build();
        List<DraftTree> passes = model.recordPasses();
        Generation g = trimmed.generate(model, TokenIds.of(s.prompt()));
        assertThat(g.ids().toArray()).containsExactly(model.greedy(s.prompt(), s.maxNewTokens(), s.stops()));
        for (DraftTree pass : passes) {
            int[] block = pass.tokens();
            for (int i = 1; i < block.length - 1; i++) {
                assertThat(s.stops()).as("guess %d of a pass over %s", i, Arrays.toString(block))
                        .doesNotContain(block[i]);
            }
        }
        // whole blocks (trajectory collection) forward every unaccepted guess: a pass is never shorter than the
        // block's unaccepted part, so each block's passes cover n, n - a1, ... tokens
        List<DraftTree> whole = model.recordPasses();
        List<JacobiIteration> iterations = new ArrayList<>();
        JacobiDecoder complete = trimmed.toBuilder().completeBlocks(true).build();
        complete.generate(model, TokenIds.of(s.prompt()), new JacobiListener() {
            @Override
            public void onIteration(JacobiIteration iteration) {
                iterations.add(iteration);
            }
        });
        assertThat(whole).hasSameSizeAs(iterations);
        for (int i = 0; i < whole.size(); i++) {
            JacobiIteration it = iterations.get(i);
            assertThat(whole.get(i).tokens()).hasSize(it.before().size() - it.fixedBefore() + 1)
                    .hasSize(it.forwarded());
        }
    }

    @Property(tries = 200)
    void cancellationKeepsWhatWasDeliveredAndStops(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        int[] expected = model.greedy(s.prompt(), s.maxNewTokens(), Set.of());
        int cancelAfter = Math.max(1, expected.length / 2);
        List<Integer> seen = new ArrayList<>();
        JacobiDecoder decoder = JacobiDecoder.builder().blockSize(s.blockSize()).maxNewTokens(s.maxNewTokens())
                .noStop().build();
        Generation g = decoder.generate(model, TokenIds.of(s.prompt()), accepted -> {
            accepted.stream().forEach(seen::add);
            return seen.size() < cancelAfter;
        });
        assertThat(g.ids().stream().boxed().toList()).isEqualTo(seen);
        assertThat(g.ids().toArray()).containsExactly(java.util.Arrays.copyOf(expected, g.ids().size()));
        if (seen.size() >= cancelAfter && expected.length > seen.size()) {
            assertThat(g.stopReason()).isEqualTo(StopReason.CANCELLED);
        }
    }
}
