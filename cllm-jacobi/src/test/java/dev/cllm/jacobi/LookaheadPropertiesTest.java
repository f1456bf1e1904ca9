package dev.cllm.jacobi;

import dev.cllm.api.DraftTree;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TokenSelector;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Decoding with candidates is lossless whatever the candidates: on random fake models, with every combination of
 * sources, adversarial drafters (always wrong, always right, duplicated, running past EOS and the context), greedy
 * and sampled, its output equals autoregressive decoding's, and it never takes more passes than tokens.
 */
class LookaheadPropertiesTest {

    /** What an adversarial drafter proposes. */
    enum Adversary { NONE, WRONG, RIGHT, DUPLICATES, LONG_RIGHT }

    record Scenario(int vocab, int order, long salt, boolean attractor, int[] prompt, int maxNewTokens,
                    Set<Integer> stops, int contextSlack, int window, int blocks, int sourceBits, Adversary adversary,
                    int maxTree, int fixedTree, double perToken) {

        FakeModel model() {
            return new FakeModel(vocab, prompt.length + contextSlack, stops, order, salt, attractor ? 0 : -1);
        }

        Set<CandidateSource> sources() {
            EnumSet<CandidateSource> s = EnumSet.noneOf(CandidateSource.class);
            CandidateSource[] own = {CandidateSource.JACOBI, CandidateSource.POOL, CandidateSource.PROMPT,
                    CandidateSource.RECYCLED};
            for (int i = 0; i < own.length; i++) {
                if ((sourceBits & (1 << i)) != 0) {
                    s.add(own[i]);
                }
            }
            return s;
        }

        LookaheadDecoder decoder(FakeModel model, TokenSelector selector) {
            LookaheadDecoder.Builder b = LookaheadDecoder.builder().window(window).blocks(blocks).sources(sources())
                    .maxTreeSize(maxTree).fixedTreeSize(fixedTree).maxNewTokens(maxNewTokens).seed(salt)
                    .passCost(PassCost.linear(1000, perToken));
            Drafter d = drafter(model, selector);
            return d == null ? b.build() : b.drafter(d).build();
        }

        /** The drafter of this scenario: it knows the model and proposes what the adversary wants. */
        Drafter drafter(FakeModel model, TokenSelector selector) {
            SplittableRandom rng = new SplittableRandom(salt);
            return switch (adversary) {
                case NONE -> null;
                case WRONG -> (context, length, max, out) -> {
                    int[] c = new int[max];
                    for (int i = 0; i < max; i++) {
                        c[i] = rng.nextInt(vocab);
                    }
                    out.accept(c);
                };
                case RIGHT, LONG_RIGHT -> (context, length, max, out) -> {
                    int n = adversary == Adversary.LONG_RIGHT ? max + 40 : max;
                    int[] seq = Arrays.copyOf(context, length + n);
                    for (int i = 0; i < n; i++) {   // the true continuation, ignoring stops and the context limit
                        seq[length + i] = model.select(selector, seq, length + i, prompt.length);
                    }
                    out.accept(Arrays.copyOfRange(seq, length, length + n));
                };
                case DUPLICATES -> (context, length, max, out) -> {
                    int[] c = {context[length - 1], context[length - 1]};
                    for (int i = 0; i < 5; i++) {
                        out.accept(c);
                    }
                };
            };
        }
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Integer> vocab = Arbitraries.integers().between(2, 40);
        return vocab.flatMap(v -> Combinators.combine(
                        Arbitraries.integers().between(1, 3),
                        Arbitraries.longs(),
                        Arbitraries.of(true, false),
                        Arbitraries.integers().between(0, v - 1).array(int[].class).ofMinSize(1).ofMaxSize(20),
                        Arbitraries.integers().between(1, 100),
                        Arbitraries.integers().between(0, v - 1).set().ofMaxSize(2),
                        Arbitraries.integers().between(1, 120),
                        Arbitraries.integers().between(2, 12))
                .flatAs((order, salt, attractor, prompt, max, stops, slack, window) -> Combinators.combine(
                                Arbitraries.integers().between(1, 3),
                                Arbitraries.integers().between(0, 15),
                                Arbitraries.of(Adversary.values()),
                                Arbitraries.integers().between(1, 40),
                                Arbitraries.integers().between(0, 12),
                                Arbitraries.of(0.0, 20.0, 200.0, 5000.0))
                        .as((blocks, bits, adversary, maxTree, fixed, perToken) -> new Scenario(v, order, salt,
                                attractor, prompt, max, stops, slack, window, blocks, bits, adversary, maxTree,
                                fixed, perToken))));
    }

    @Property(tries = 400)
    void greedyOutputEqualsAutoregressiveOutput(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        Generation g = s.decoder(model, TokenSelector.GREEDY).generate(model, TokenIds.of(s.prompt()));
        int[] expected = model.greedy(s.prompt(), s.maxNewTokens(), s.stops());
        assertThat(g.ids().toArray()).containsExactly(expected);
        Generation ar = JacobiDecoder.autoregressive(s.maxNewTokens()).generate(model, TokenIds.of(s.prompt()));
        assertThat(g.stopReason()).isEqualTo(ar.stopReason());
        assertThat(model.forwardCalls.get()).isEqualTo(g.stats().forwardPasses() + ar.stats().forwardPasses());
        boolean cut = g.stopReason() == StopReason.STOP_TOKEN;
        assertThat(g.stats().forwardPasses()).isLessThanOrEqualTo(g.stats().newTokens() + (cut ? 1 : 0));
        assertThat(g.stats().acceptedHistogram().stream().mapToInt(Integer::intValue).sum())
                .isEqualTo(g.stats().forwardPasses());
        assertThat(g.stats().acceptedBySource().values().stream().mapToLong(Long::longValue).sum())
                .isEqualTo(g.stats().fastForwarded());
    }

    @Property(tries = 300)
    void theJacobiWindowRunsNoGuessAfterAGuessedStopToken(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        LookaheadDecoder running = LookaheadDecoder.builder().window(s.window()).blocks(s.blocks())
                .sources(EnumSet.of(CandidateSource.JACOBI)).maxTreeSize(s.maxTree()).fixedTreeSize(s.fixedTree())
                .maxNewTokens(s.maxNewTokens()).seed(s.salt()).passCost(PassCost.linear(1000, s.perToken())).build();
        List<DraftTree> trees = model.recordPasses();
        Generation g = running.generate(model, TokenIds.of(s.prompt()));
        assertThat(g.ids().toArray()).containsExactly(model.greedy(s.prompt(), s.maxNewTokens(), s.stops()));
        for (DraftTree tree : trees) {      // the window alone makes a chain; a guessed stop can only end it
            for (int node = 1; node < tree.size(); node++) {
                for (int up = tree.parent(node); up > 0; up = tree.parent(up)) {
                    assertThat(s.stops()).as("node %d's ancestor %d", node, up).doesNotContain(tree.token(up));
                }
            }
        }
    }

    @Property(tries = 300)
    void sampledOutputEqualsAutoregressiveAndJacobiWithTheSameSeed(@ForAll("scenarios") Scenario s) {
        FakeModel model = s.model();
        GenerationConfig config = GenerationConfig.builder().maxNewTokens(s.maxNewTokens()).sampling(0.7 + s.perToken()
                / 10000).topK((int) Math.floorMod(s.salt(), 5)).topP(s.fixedTree() % 2 == 0 ? 1.0 : 0.9)
                .minP(s.window() % 3 == 0 ? 0.05 : 0).repetitionPenalty(s.blocks() == 2 ? 1.3 : 1.0)
                .seed(s.salt()).build();
        TokenSelector selector = config.selector(s.salt(), s.stops());
        int[] expected = model.reference(s.prompt(), s.maxNewTokens(), s.stops(), selector);
        Generation g = s.decoder(model, selector).generate(model, TokenIds.of(s.prompt()), config,
                GenerationListener.NONE);
        assertThat(g.ids().toArray()).containsExactly(expected);
        assertThat(g.seed()).isEqualTo(s.salt());
        Generation jacobi = JacobiDecoder.builder().blockSize(s.window()).build()
                .generate(model, TokenIds.of(s.prompt()), config, GenerationListener.NONE);
        assertThat(jacobi.ids().toArray()).containsExactly(expected);
    }

    @Test
    void anAlwaysRightDrafterAcceptsSeveralTokensPerPass() {
        FakeModel model = new FakeModel(50, 400, Set.of(), 2, 7, -1);
        int[] prompt = {3, 4, 5};
        Scenario s = new Scenario(50, 2, 7, false, prompt, 200, Set.of(), 397, 4, 1, 0, Adversary.RIGHT, 16, 0,
                10.0);
        Generation g = s.decoder(model, TokenSelector.GREEDY).generate(model, TokenIds.of(prompt));
        assertThat(g.ids().toArray()).containsExactly(model.greedy(prompt, 200, Set.of()));
        assertThat(g.stats().tokensPerPass()).isGreaterThan(4.0);
        assertThat(g.stats().acceptedBySource().get("external")).isGreaterThan(100L);
    }

    @Test
    void whereNothingIsAcceptedTheCostModelFallsBackToSingleTokenPasses() {
        // random guesses on a 1000-token vocabulary are almost never right; passes cost 1 + 0.05 per token
        FakeModel model = new FakeModel(1000, 600, Set.of(), 3, 11, -1);
        int[] prompt = {1, 2, 3, 4};
        LookaheadDecoder decoder = LookaheadDecoder.builder().maxNewTokens(400)
                .passCost(PassCost.linear(1000, 50)).drafter(new Scenario(1000, 3, 11, false, prompt, 400, Set.of(),
                        596, 8, 1, 15, Adversary.WRONG, 64, 0, 50).drafter(model, TokenSelector.GREEDY)).build();
        Generation g = decoder.generate(model, TokenIds.of(prompt));
        assertThat(g.ids().toArray()).containsExactly(model.greedy(prompt, 400, Set.of()));
        List<Integer> budgets = g.stats().budgetHistogram();
        int singles = budgets.size() > 1 ? budgets.get(1) : 0;
        int passes = budgets.stream().mapToInt(Integer::intValue).sum();
        assertThat(singles).as("single-token passes among %d: %s", passes, budgets).isGreaterThan(passes * 3 / 4);
    }

    @Test
    void aSharedPoolFilledWithTheAnswerMakesLaterRequestsFast() {
        FakeModel model = new FakeModel(200, 400, Set.of(), 2, 5, -1);
        int[] prompt = {7, 8, 9};
        int[] answer = model.greedy(prompt, 120, Set.of());
        NgramPool pool = NgramPool.of(List.of(TokenIds.of(answer)));
        LookaheadDecoder decoder = LookaheadDecoder.builder().maxNewTokens(120).pool(pool)
                .passCost(PassCost.linear(1000, 20)).build();
        Generation g = decoder.generate(model, TokenIds.of(prompt));
        assertThat(g.ids().toArray()).containsExactly(answer);
        assertThat(g.stats().tokensPerPass()).isGreaterThan(3.0);
        assertThat(g.stats().acceptedBySource().get("pool")).isGreaterThan(60L);
    }

    @Test
    void streamedTokensConcatenateToTheOutput() {
        FakeModel model = new FakeModel(30, 300, Set.of(2), 2, 3, 0);
        int[] prompt = {5, 6};
        List<Integer> seen = new ArrayList<>();
        Generation g = LookaheadDecoder.builder().maxNewTokens(150).passCost(PassCost.linear(1000, 10)).build()
                .generate(model, TokenIds.of(prompt), GenerationConfig.builder().maxNewTokens(150).build(),
                        accepted -> {
                            accepted.stream().forEach(seen::add);
                            return true;
                        });
        assertThat(g.ids().stream().boxed().toList()).isEqualTo(seen);
    }
}
