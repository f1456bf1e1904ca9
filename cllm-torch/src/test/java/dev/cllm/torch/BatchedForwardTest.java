package dev.cllm.torch;

import dev.cllm.api.BatchPass;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.PassResult;
import dev.cllm.api.TokenSelector;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link TorchConsistencyModel#forwardBatch}: one packed pass over several sessions selects the tokens each session
 * selects alone and leaves each session as its own call would. Every session has a twin that runs the same passes
 * alone; the two are driven in lockstep through prefills, blocks and trees of random sizes at random positions, with
 * greedy, sampled and penalised selection, and must select the same tokens at every step.
 */
class BatchedForwardTest {
    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");

    @Test
    void stories260KSelectsWhatEachSessionSelectsAlone() {
        try (TorchConsistencyModel model = TorchConsistencyModel.load(Stories260K.dir(), CPU)) {
            lockstep(model, 7, 60, 1);
        }
    }

    @Test
    void randomModelsInBothKernelsSelectWhatEachSessionSelectsAlone(@TempDir Path dir) {
        // an fp32 checkpoint runs its projections in OpenBLAS (one row alone: GEMV), a bf16 one in FBGEMM's fp16 GEMM
        Path f32 = new TinyCheckpoints.Variant("f32", TinyCheckpoints.base().maxPositions(256).build(),
                ComputeDtype.F32, Long.MAX_VALUE).write(dir.resolve("f32"), 3);
        Path bf16 = new TinyCheckpoints.Variant("bf16", TinyCheckpoints.base().maxPositions(256).build(),
                ComputeDtype.BF16, Long.MAX_VALUE).write(dir.resolve("bf16"), 4);
        try (TorchConsistencyModel model = TorchConsistencyModel.load(f32, CPU)) {
            assertThat(model.llama().gemm()).isEqualTo(CpuGemm.BLAS);
            lockstep(model, 6, 50, 2);
        }
        try (TorchConsistencyModel model = TorchConsistencyModel.load(bf16, CPU)) {
            assertThat(model.llama().gemm()).isEqualTo(CpuGemm.FBGEMM_FP16);
            lockstep(model, 6, 50, 3);
        }
    }

    /**
     * Drives {@code pairs} session pairs for {@code steps} batches: each step a random subset of the batched sessions
     * runs one pass each in one {@code forwardBatch}, their twins run the same passes alone.
     */
    private static void lockstep(TorchConsistencyModel model, int pairs, int steps, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int vocab = model.config().vocabSize();
        int capacity = Math.min(200, model.config().contextLength());
        List<DecodingSession> batched = new ArrayList<>();
        List<DecodingSession> alone = new ArrayList<>();
        int[] next = new int[pairs];
        int compared = 0;
        try {
            for (int i = 0; i < pairs; i++) {
                batched.add(model.newSession(capacity));
                alone.add(model.newSession(capacity));
                TokenSelector selector = switch (i % 3) {
                    case 0 -> TokenSelector.GREEDY;
                    case 1 -> new TokenSelector(true, 0.9, 20, 0.95, 0.0, 1.0, 0.0, 0.0, 100 + i, 0, Set.of());
                    default -> new TokenSelector(false, 1.0, 0, 1.0, 0.0, 1.3, 0.2, 0.1, 0, 2, Set.of(2));
                };
                batched.get(i).select(selector);
                alone.get(i).select(selector);
                next[i] = -1;
            }
            for (int step = 0; step < steps; step++) {
                List<BatchPass> passes = new ArrayList<>();
                List<Integer> who = new ArrayList<>();
                List<BatchPass> twins = new ArrayList<>();
                for (int i = 0; i < pairs; i++) {
                    if (step > 0 && rng.nextInt(4) == 0) {
                        continue;                                    // not every session in every batch
                    }
                    DecodingSession a = batched.get(i);
                    DecodingSession b = alone.get(i);
                    int room = capacity - a.position();
                    if (next[i] < 0 || room < 12) {                  // (re)start: prefill a prompt
                        a.rewind(0);
                        b.rewind(0);
                        int[] prompt = random(rng, vocab, 1 + rng.nextInt(24));
                        passes.add(BatchPass.prefill(a, prompt));
                        twins.add(BatchPass.prefill(b, prompt));
                    } else if (rng.nextBoolean()) {                  // a block rooted at the certain token
                        int[] block = random(rng, vocab, 1 + rng.nextInt(8));
                        block[0] = next[i];
                        passes.add(BatchPass.forward(a, block));
                        twins.add(BatchPass.forward(b, block));
                    } else {                                         // a tree
                        int size = 1 + rng.nextInt(10);
                        int[] tokens = random(rng, vocab, size);
                        int[] parents = new int[size];
                        tokens[0] = next[i];
                        parents[0] = -1;
                        for (int n = 1; n < size; n++) {
                            parents[n] = rng.nextInt(n);
                        }
                        DraftTree tree = DraftTree.of(tokens, parents);
                        passes.add(BatchPass.forward(a, tree));
                        twins.add(BatchPass.forward(b, tree));
                    }
                    who.add(i);
                }
                List<PassResult> results = model.forwardBatch(passes);
                assertThat(results).hasSize(passes.size());
                for (int k = 0; k < passes.size(); k++) {
                    int i = who.get(k);
                    int[] got = results.get(k).tokensOrThrow();
                    int[] want = twins.get(k).runAlone();
                    assertThat(got).as("step %d, session %d, %s", step, i, passes.get(k)).containsExactly(want);
                    compared += want.length;
                    BatchPass p = passes.get(k);
                    if (p.prefill()) {
                        next[i] = got[0];
                    } else {                                         // commit what verification would, on both
                        int node = p.tree().deepestVerified(got);
                        if (p.tree().isChain() && rng.nextInt(4) == 0) {
                            node = rng.nextInt(p.size());            // sometimes a shorter prefix of a block
                        }
                        batched.get(i).commitPath(node);
                        alone.get(i).commitPath(node);
                        next[i] = got[node];
                    }
                    assertThat(batched.get(i).position()).isEqualTo(alone.get(i).position());
                }
            }
            assertThat(compared).isGreaterThan(steps * pairs);
        } finally {
            batched.forEach(DecodingSession::close);
            alone.forEach(DecodingSession::close);
        }
    }

    @Test
    void aBadPassFailsAloneAndTheOthersRun() {
        try (TorchConsistencyModel model = TorchConsistencyModel.load(Stories260K.dir(), CPU);
             DecodingSession good = model.newSession(64);
             DecodingSession badIds = model.newSession(64);
             DecodingSession tooLong = model.newSession(8);
             DecodingSession closed = model.newSession(64);
             DecodingSession twin = model.newSession(64)) {
            closed.close();
            int[] prompt = {1, 404, 475, 464};
            List<PassResult> results = model.forwardBatch(List.of(
                    BatchPass.prefill(badIds, new int[]{1, 99_999}),
                    BatchPass.prefill(good, prompt),
                    BatchPass.prefill(tooLong, new int[9]),
                    BatchPass.forward(closed, new int[]{1})));
            assertThat(results.get(0).error()).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("99999").hasMessageContaining("vocabulary");
            assertThat(results.get(1).tokensOrThrow()).containsExactly(twin.prefill(prompt));
            assertThat(results.get(2).error()).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("capacity");
            assertThat(results.get(3).error()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            assertThat(good.position()).isEqualTo(prompt.length);
            assertThat(badIds.position()).isZero();
        }
    }

    @Test
    void aSessionMayRunOnePassPerBatchAndAClosedModelFailsEveryPass() {
        TorchConsistencyModel model = TorchConsistencyModel.load(Stories260K.dir(), CPU);
        DecodingSession s = model.newSession(64);
        assertThatThrownBy(() -> model.forwardBatch(List.of(BatchPass.prefill(s, new int[]{1}),
                BatchPass.forward(s, new int[]{1})))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("same session");
        model.close();
        List<PassResult> results = model.forwardBatch(List.of(BatchPass.prefill(s, new int[]{1})));
        assertThat(results.get(0).error()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void longPrefillsRunAloneInTheSameBatch(@TempDir Path dir) {
        Path checkpoint = new TinyCheckpoints.Variant("long", TinyCheckpoints.base().maxPositions(1024).build(),
                ComputeDtype.F32, Long.MAX_VALUE).write(dir, 6);
        try (TorchConsistencyModel model = TorchConsistencyModel.load(checkpoint, CPU);
             DecodingSession a = model.newSession(model.config().contextLength());
             DecodingSession b = model.newSession(model.config().contextLength());
             DecodingSession twin = model.newSession(model.config().contextLength())) {
            SplittableRandom rng = new SplittableRandom(5);
            int[] longPrompt = random(rng, model.config().vocabSize(), TorchSession.PREFILL_CHUNK + 40);
            int[] shortPrompt = random(rng, model.config().vocabSize(), 5);
            List<PassResult> results = model.forwardBatch(List.of(BatchPass.prefill(a, longPrompt),
                    BatchPass.prefill(b, shortPrompt)));
            assertThat(results.get(0).tokensOrThrow()).containsExactly(twin.prefill(longPrompt));
            twin.rewind(0);
            assertThat(results.get(1).tokensOrThrow()).containsExactly(twin.prefill(shortPrompt));
            assertThat(a.position()).isEqualTo(longPrompt.length);
        }
    }

    @Test
    void cacheBytesIsWhatASessionAllocates() {
        try (TorchConsistencyModel model = TorchConsistencyModel.load(Stories260K.dir(), CPU);
             DecodingSession s = model.newSession(100)) {
            assertThat(model.cacheBytes(100)).isEqualTo(((TorchSession) s).cacheBytes()).isPositive();
        }
    }

    private static int[] random(SplittableRandom rng, int vocab, int n) {
        int[] out = new int[n];
        Arrays.setAll(out, i -> rng.nextInt(vocab));
        return out;
    }
}
