package dev.cllm.jacobi;

import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Decoding with candidates on a real pretrained model: every combination of sources reproduces llama2.c's greedy
 * output, and sampling with a seed gives the same tokens under autoregressive, Jacobi (every block size) and
 * candidate decoding.
 */
class Stories260KLookaheadTest {
    private static TorchConsistencyModel model;

    @BeforeAll
    static void load() {
        model = TorchConsistencyModel.load(Stories260K.dir(), TorchOptions.defaults().withDevice("cpu"));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    /** Every non-empty subset of the four built-in sources. */
    static List<Set<CandidateSource>> sourceCombinations() {
        CandidateSource[] all = {CandidateSource.JACOBI, CandidateSource.POOL, CandidateSource.PROMPT,
                CandidateSource.RECYCLED};
        List<Set<CandidateSource>> out = new ArrayList<>();
        for (int bits = 1; bits < 16; bits++) {
            EnumSet<CandidateSource> s = EnumSet.noneOf(CandidateSource.class);
            for (int i = 0; i < all.length; i++) {
                if ((bits & (1 << i)) != 0) {
                    s.add(all[i]);
                }
            }
            out.add(s);
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sourceCombinations")
    void everySourceCombinationEqualsTheReferenceGreedyIds(Set<CandidateSource> sources) {
        // a cost curve that makes guesses cheap, so that trees are actually run and verified
        LookaheadDecoder decoder = LookaheadDecoder.builder().sources(sources).blocks(2)
                .passCost(PassCost.linear(1000, 10)).build();
        for (Stories260K.GreedyCase c : Stories260K.greedyCases()) {
            Generation g = decoder.generate(model, TokenIds.of(c.promptIds()),
                    GenerationConfig.builder().maxNewTokens(c.maxNewTokens()).noStop().build(),
                    GenerationListener.NONE);
            assertThat(g.ids().toArray()).as("%s prompt %s", sources, Arrays.toString(c.promptIds()))
                    .containsExactly(c.greedyIds());
            assertThat(g.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
            assertThat(g.stats().forwardPasses()).isLessThanOrEqualTo(c.maxNewTokens());
        }
    }

    @Test
    void theMeasuredCostModelIsLosslessToo() {
        LookaheadDecoder decoder = LookaheadDecoder.builder().build();
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(0);
        Generation g = decoder.generate(model, TokenIds.of(c.promptIds()),
                GenerationConfig.builder().maxNewTokens(c.maxNewTokens()).noStop().build(), GenerationListener.NONE);
        assertThat(g.ids().toArray()).containsExactly(c.greedyIds());
        assertThat(decoder.passCost(model)).isNotNull();
        assertThat(decoder.passCost(model).nanos(1)).isPositive();
    }

    @Test
    void aFixedTreeSizeMeasuresNoCostAndIsLossless() {
        // the running Jacobi window of the demo's running-cllm row: the window alone, every pass the same size
        LookaheadDecoder decoder = LookaheadDecoder.builder().window(16).sources(EnumSet.of(CandidateSource.JACOBI))
                .fixedTreeSize(16).build();
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(0);
        Generation g = decoder.generate(model, TokenIds.of(c.promptIds()),
                GenerationConfig.builder().maxNewTokens(c.maxNewTokens()).noStop().build(), GenerationListener.NONE);
        assertThat(g.ids().toArray()).containsExactly(c.greedyIds());
        assertThat(decoder.passCost(model)).as("no calibration when the cost model has nothing to choose").isNull();
    }

    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {2, 4, 8, 16, 32})
    void samplingWithASeedGivesTheSameTokensUnderEveryDecoder(int blockSize) {
        int identical = 0;
        int total = 0;
        for (Stories260K.GreedyCase c : Stories260K.greedyCases()) {
            for (GenerationConfig config : List.of(
                    GenerationConfig.builder().maxNewTokens(96).noStop().sampling(0.8).topK(0)
                            .seed(99 + c.promptIds().length).build(),
                    GenerationConfig.builder().maxNewTokens(96).noStop().sampling(0.8).topK(40).topP(0.95)
                            .repetitionPenalty(1.1).seed(1234 + c.promptIds().length).build())) {
                TokenIds prompt = TokenIds.of(c.promptIds());
                Generation ar = JacobiDecoder.autoregressive(96).generate(model, prompt, config,
                        GenerationListener.NONE);
                Generation jacobi = JacobiDecoder.jacobi(blockSize, 96).generate(model, prompt, config,
                        GenerationListener.NONE);
                Generation lookahead = LookaheadDecoder.builder().window(Math.max(2, blockSize))
                        .passCost(PassCost.linear(1000, 10)).build()
                        .generate(model, prompt, config, GenerationListener.NONE);
                assertThat(ar.seed()).isEqualTo(config.seed());
                assertThat(ar.ids().toArray()).as("a sample, not the greedy output")
                        .isNotEqualTo(Arrays.copyOf(c.greedyIds(), 96));
                for (Generation g : List.of(jacobi, lookahead)) {
                    total++;
                    identical += SampledAgreement.sameUpToRounding(model, ar, g, config) ? 1 : 0;
                }
            }
        }
        // every divergence was a rounding-level near-tie (checked above); they are rare
        assertThat(identical).as("identical sampled outputs, n = %d", blockSize).isGreaterThanOrEqualTo(total - 2);
    }
}
