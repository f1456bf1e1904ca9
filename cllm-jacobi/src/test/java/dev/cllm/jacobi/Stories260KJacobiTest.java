package dev.cllm.jacobi;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.Prompt;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrajectoryCollector;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/** Jacobi decoding on a real pretrained model reproduces llama2.c's greedy output for every block size. */
class Stories260KJacobiTest {
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

    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {1, 2, 4, 8, 16, 32})
    void jacobiEqualsTheReferenceGreedyIds(int blockSize) {
        for (Stories260K.GreedyCase c : Stories260K.greedyCases()) {
            JacobiDecoder decoder = JacobiDecoder.builder().blockSize(blockSize).maxNewTokens(c.maxNewTokens())
                    .noStop().build();
            Generation g = decoder.generate(model, TokenIds.of(c.promptIds()));
            assertThat(g.ids().toArray()).as("n=%d prompt %s", blockSize, Arrays.toString(c.promptIds()))
                    .containsExactly(c.greedyIds());
            assertThat(g.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
            assertThat(g.stats().forwardPasses()).isLessThanOrEqualTo(c.maxNewTokens());
            if (blockSize == 1) {
                assertThat(g.stats().forwardPasses()).isEqualTo(c.maxNewTokens());
            }
        }
    }

    @Test
    void everyInitializerGivesTheSameOutput() {
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(0);
        for (BlockInitializer init : List.of(BlockInitializer.CONTEXT_SAMPLE, BlockInitializer.REPEAT_LAST,
                BlockInitializer.constant(0))) {
            Generation g = JacobiDecoder.builder().blockSize(16).maxNewTokens(c.maxNewTokens()).noStop()
                    .initializer(init).build().generate(model, TokenIds.of(c.promptIds()));
            assertThat(g.ids().toArray()).containsExactly(c.greedyIds());
        }
    }

    @Test
    void stopsAtEosAndCutsTheOutputThere() {
        // stories end with EOS (2) sooner or later; compare against the no-stop output
        int[] prompt = Stories260K.greedyCases().get(2).promptIds();
        Generation all = JacobiDecoder.builder().blockSize(8).maxNewTokens(300).noStop().build()
                .generate(model, TokenIds.of(prompt));
        int eosAt = all.ids().stream().boxed().toList().indexOf(2);
        Generation stopped = JacobiDecoder.builder().blockSize(8).maxNewTokens(300).build()
                .generate(model, TokenIds.of(prompt));
        if (eosAt >= 0) {
            assertThat(stopped.stopReason()).isEqualTo(StopReason.STOP_TOKEN);
            assertThat(stopped.ids()).isEqualTo(all.ids().subSequence(0, eosAt));
        } else {
            assertThat(stopped.ids()).isEqualTo(all.ids());
        }
    }

    @Test
    void stopsAtTheContextLimit() {
        int[] prompt = Stories260K.greedyCases().get(0).promptIds();
        Generation g = JacobiDecoder.builder().blockSize(16).maxNewTokens(1000).noStop().build()
                .generate(model, TokenIds.of(prompt));
        assertThat(g.stopReason()).isEqualTo(StopReason.CONTEXT_LIMIT);
        assertThat(prompt.length + g.ids().size()).isEqualTo(model.config().contextLength());
        Generation ar = JacobiDecoder.builder().blockSize(1).maxNewTokens(1000).noStop().build()
                .generate(model, TokenIds.of(prompt));
        assertThat(ar.ids()).isEqualTo(g.ids());
    }

    @Test
    void trajectoriesMatchNoCacheFullBlockJacobiAndConcatenateToTheGreedyOutput() {
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(1);   // 200 reference tokens
        int n = 16;
        JacobiTrajectoryCollector collector = JacobiTrajectoryCollector.builder().blockSize(n).maxNewTokens(160)
                .stopOnEos(false).build();
        TrajectoryCollector.Result result;
        try (DecodingSession session = model.newSession()) {
            result = collector.collect(session, Prompt.of(0, TokenIds.of(c.promptIds())));
        }
        assertThat(result.trajectories()).hasSize(10);
        TokenIds all = TokenIds.empty();
        for (Trajectory t : result.trajectories()) {
            all = all.concat(t.fixedPoint());
            for (int j = 0; j + 1 < t.states().size(); j++) {
                assertThat(t.states().get(j + 1)).as("block %d state %d", t.block(), j + 1)
                        .isEqualTo(noCacheJacobiUpdate(t.context(), t.states().get(j)));
            }
            assertThat(noCacheJacobiUpdate(t.context(), t.fixedPoint())).isEqualTo(t.fixedPoint());
        }
        assertThat(all.toArray()).containsExactly(Arrays.copyOf(c.greedyIds(), 160));
    }

    /** Full-block Jacobi update from one cache-free forward pass over context + state. */
    private static TokenIds noCacheJacobiUpdate(TokenIds context, TokenIds state) {
        try (DecodingSession fresh = model.newSession()) {
            int[] predicted = fresh.forward(context.concat(state).toArray());
            int[] out = state.toArray();
            for (int i = 1; i < out.length; i++) {
                out[i] = predicted[context.size() + i - 1];
            }
            return TokenIds.of(out);
        }
    }

    @Test
    void concurrentSessionsOnOneModelGiveTheSequentialResults() throws Exception {
        List<Stories260K.GreedyCase> cases = Stories260K.greedyCases();
        JacobiDecoder decoder = JacobiDecoder.builder().blockSize(8).maxNewTokens(64).noStop().build();
        List<TokenIds> sequential = new ArrayList<>();
        for (Stories260K.GreedyCase c : cases) {
            sequential.add(decoder.generate(model, TokenIds.of(c.promptIds())).ids());
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int round = 0; round < 3; round++) {
                List<Future<TokenIds>> futures = new ArrayList<>();
                for (Stories260K.GreedyCase c : cases) {
                    futures.add(pool.submit(() -> decoder.generate(model, TokenIds.of(c.promptIds())).ids()));
                }
                for (int i = 0; i < cases.size(); i++) {
                    assertThat(futures.get(i).get()).as("case %d round %d", i, round).isEqualTo(sequential.get(i));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
