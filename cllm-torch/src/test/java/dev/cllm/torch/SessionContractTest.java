package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.ThrowingConsumer;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The {@link DecodingSession} contract on a tiny random model: argument checks name the bad value, the
 * forward/commit/rewind protocol is enforced, closing is idempotent and use after close throws
 * {@link IllegalStateException} (never a crash), and a rejected block leaves no trace.
 */
class SessionContractTest {
    private static final int VOCAB = 97;
    private static final int CONTEXT = 64;
    /** fp32 logits of the same context computed with different block splits differ by rounding only. */
    private static final float LOGIT_TOLERANCE = 1e-5f;

    @TempDir
    static Path checkpoint;
    private static TorchConsistencyModel model;

    @BeforeAll
    static void load() {
        TinyCheckpoints.variants().get(0).write(checkpoint, 5);
        model = open();
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    private static TorchConsistencyModel open() {
        return TorchConsistencyModel.load(checkpoint, TorchOptions.defaults().withDevice("cpu"));
    }

    private static int[] tokens(int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = rng.nextInt(VOCAB);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ token ids

    @Test
    void tokenIdsOutsideTheVocabularyAreRejectedByForwardAndPrefill() {
        assertThat(model.config().vocabSize()).isEqualTo(VOCAB);
        try (DecodingSession session = model.newSession(16)) {
            for (int bad : new int[]{-1, VOCAB, VOCAB + 1000, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
                int[] block = {3, 4, bad, 5};
                List<ThrowingConsumer<int[]>> calls = List.of(session::forward, session::forwardLogits,
                        session::prefill);
                for (ThrowingConsumer<int[]> call : calls) {
                    assertThatThrownBy(() -> call.accept(block))
                            .isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining(String.valueOf(bad))
                            .hasMessageContaining(String.valueOf(VOCAB));
                }
            }
            assertThat(session.position()).isZero();
            // nothing was forwarded, so there is nothing to commit
            assertThatThrownBy(() -> session.commit(0)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void emptyBlocksAreRejected() {
        try (DecodingSession session = model.newSession(16)) {
            assertThatThrownBy(() -> session.forward(new int[0])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("empty");
            assertThatThrownBy(() -> session.forwardLogits(new int[0])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("empty");
            assertThatThrownBy(() -> session.prefill(new int[0])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("empty");
        }
    }

    @Test
    void blocksThatDoNotFitTheCapacityAreRejected() {
        try (DecodingSession session = model.newSession(10)) {
            assertThat(session.capacity()).isEqualTo(10);
            assertThatThrownBy(() -> session.forward(tokens(11, 1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("position 0").hasMessageContaining("10");
            session.prefill(tokens(7, 2));
            assertThatThrownBy(() -> session.forward(tokens(4, 3))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("position 7").hasMessageContaining("capacity of 10");
            assertThatThrownBy(() -> session.prefill(tokens(4, 3))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("position 7").hasMessageContaining("capacity of 10");
            assertThat(session.position()).isEqualTo(7);
            // exactly filling the cache is fine
            assertThat(session.forward(tokens(3, 4))).hasSize(3);
            session.commit(3);
            assertThat(session.position()).isEqualTo(10);
            assertThatThrownBy(() -> session.forward(new int[]{1})).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("position 10");
        }
    }

    // ------------------------------------------------------------------------------------------ protocol

    @Test
    void commitNeedsAForwardAndAtMostTheBlock() {
        try (DecodingSession session = model.newSession(32)) {
            assertThatThrownBy(() -> session.commit(1)).isInstanceOf(IllegalStateException.class);
            session.forward(tokens(4, 5));
            assertThatThrownBy(() -> session.commit(5)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("5").hasMessageContaining("4");
            assertThatThrownBy(() -> session.commit(-1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("-1");
            session.commit(4);
            assertThat(session.position()).isEqualTo(4);
            // one forward, one commit
            assertThatThrownBy(() -> session.commit(0)).isInstanceOf(IllegalStateException.class);
            // prefill commits by itself
            session.prefill(tokens(3, 6));
            assertThatThrownBy(() -> session.commit(0)).isInstanceOf(IllegalStateException.class);
            // rewind discards a pending block
            session.forward(tokens(2, 7));
            session.rewind(5);
            assertThatThrownBy(() -> session.commit(1)).isInstanceOf(IllegalStateException.class);
            assertThat(session.position()).isEqualTo(5);
        }
    }

    @Test
    void rewindOnlyGoesBack() {
        try (DecodingSession session = model.newSession(32)) {
            session.prefill(tokens(6, 8));
            assertThatThrownBy(() -> session.rewind(7)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("7").hasMessageContaining("6");
            assertThatThrownBy(() -> session.rewind(-1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("-1");
            session.rewind(6);
            assertThat(session.position()).isEqualTo(6);
            session.rewind(0);
            assertThat(session.position()).isZero();
        }
    }

    @Test
    void sessionCapacityIsChecked() {
        assertThatThrownBy(() -> model.newSession(1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1").hasMessageContaining(String.valueOf(CONTEXT));
        assertThatThrownBy(() -> model.newSession(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> model.newSession(-5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> model.newSession(CONTEXT + 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(String.valueOf(CONTEXT + 1));
        int before = model.openSessions();
        try (DecodingSession two = model.newSession(2); DecodingSession full = model.newSession()) {
            assertThat(two.capacity()).isEqualTo(2);
            assertThat(full.capacity()).isEqualTo(CONTEXT);
            assertThat(model.openSessions()).isEqualTo(before + 2);
        }
        assertThat(model.openSessions()).isEqualTo(before);
    }

    // ------------------------------------------------------------------------------------------ closing

    @Test
    void useAfterCloseThrowsAndDoubleCloseIsFine() {
        DecodingSession session = model.newSession(8);
        session.prefill(new int[]{1, 2});
        session.close();
        assertThatCode(session::close).doesNotThrowAnyException();
        assertUnusable(session);
        assertThat(session.model()).isSameAs(model);
    }

    @Test
    void closingTheModelClosesItsSessions() {
        TorchConsistencyModel own = open();
        DecodingSession idle = own.newSession(8);
        DecodingSession pending = own.newSession(16);
        pending.prefill(new int[]{1, 2, 3});
        pending.forward(new int[]{4, 5});
        assertThat(own.openSessions()).isEqualTo(2);

        own.close();
        assertThat(own.openSessions()).isZero();
        assertUnusable(idle);
        assertUnusable(pending);
        assertThatCode(idle::close).doesNotThrowAnyException();
        assertThatCode(own::close).doesNotThrowAnyException();
        assertThatThrownBy(() -> own.newSession(8)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(own::newSession).isInstanceOf(IllegalStateException.class);
        assertThat(own.config().vocabSize()).isEqualTo(VOCAB); // plain values stay readable
    }

    @Test
    void closingASessionAfterItsModelIsFine() {
        TorchConsistencyModel own = open();
        DecodingSession session = own.newSession(8);
        own.close();
        assertThatCode(session::close).doesNotThrowAnyException();
        assertUnusable(session);
    }

    private static void assertUnusable(DecodingSession session) {
        List<Runnable> calls = new ArrayList<>();
        calls.add(() -> session.forward(new int[]{1}));
        calls.add(() -> session.forwardLogits(new int[]{1}));
        calls.add(() -> session.prefill(new int[]{1}));
        calls.add(() -> session.commit(0));
        calls.add(() -> session.rewind(0));
        calls.add(session::position);
        calls.add(session::selector);
        calls.add(() -> session.select(dev.cllm.api.TokenSelector.GREEDY));
        for (Runnable call : calls) {
            assertThatThrownBy(call::run).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }

    // ------------------------------------------------------------------------------------------ results

    @Test
    void forwardIsTheArgmaxOfForwardLogits() {
        try (DecodingSession a = model.newSession(48); DecodingSession b = model.newSession(48)) {
            int[] prompt = tokens(9, 10);
            a.prefill(prompt);
            b.prefill(prompt);
            for (int round = 0; round < 6; round++) {
                int[] block = tokens(1 + round * 2, 20 + round);
                int[] ids = a.forward(block);
                Logits logits = b.forwardLogits(block);
                assertThat(logits.rows()).isEqualTo(block.length);
                assertThat(logits.vocabSize()).isEqualTo(VOCAB);
                int[] argmax = new int[block.length];
                for (int t = 0; t < block.length; t++) {
                    argmax[t] = logits.argmax(t);
                }
                assertThat(ids).as("round %d", round).containsExactly(argmax);
                a.commit(round % 3);
                b.commit(round % 3);
            }
        }
    }

    @Test
    void prefillReturnsTheLastPredictionOfForward() {
        for (int length : new int[]{1, 2, 7, 30}) {
            int[] prompt = tokens(length, length);
            try (DecodingSession a = model.newSession(); DecodingSession b = model.newSession()) {
                int next = a.prefill(prompt);
                int[] all = b.forward(prompt);
                b.commit(prompt.length);
                assertThat(next).as("prompt of %d", length).isEqualTo(all[length - 1]);
                assertThat(a.position()).isEqualTo(b.position()).isEqualTo(length);
                // and the caches agree afterwards
                assertThat(a.forward(new int[]{next})).containsExactly(b.forward(new int[]{next}));
            }
        }
    }

    @Test
    void prefillLongerThanOneChunkEqualsOneForward(@TempDir Path dir) {
        // a model whose context exceeds TorchSession.PREFILL_CHUNK, so prefill splits the prompt
        int context = TorchSession.PREFILL_CHUNK * 2 + 40;
        new TinyCheckpoints.Variant("long-context", TinyCheckpoints.base().maxPositions(context).build(),
                ComputeDtype.F32, Long.MAX_VALUE).write(dir, 9);
        try (TorchConsistencyModel big = TorchConsistencyModel.load(dir, TorchOptions.defaults().withDevice("cpu"))) {
            int[] prompt = tokens(TorchSession.PREFILL_CHUNK * 2 + 3, 77);
            try (DecodingSession a = big.newSession(); DecodingSession b = big.newSession()) {
                int next = a.prefill(prompt);
                Logits logits = b.forwardLogits(prompt);
                b.commit(prompt.length);
                assertThat(next).isEqualTo(logits.argmax(prompt.length - 1));
                assertThat(a.position()).isEqualTo(prompt.length);
                Logits after = a.forwardLogits(new int[]{next});
                Logits reference = b.forwardLogits(new int[]{next});
                assertClose(after.row(0), reference.row(0), "after a chunked prefill");
            }
        }
    }

    /**
     * {@code TorchConsistencyModel.of(LlamaModel.random(..))} is the documented way to decode with a model built in
     * memory (training, benchmarks). Today its {@code Device} is freed as soon as {@code random} returns.
     */
    @Test
    void aRandomModelBuiltInMemoryCanDecode() {
        TorchOptions cpu = TorchOptions.defaults().withDevice("cpu");
        try (LlamaModel llama = LlamaModel.random(TinyCheckpoints.base().build(), 9, cpu);
             TorchConsistencyModel inMemory = TorchConsistencyModel.of(llama)) {
            assertThat(llama.deviceName()).isEqualTo("cpu");
            try (DecodingSession session = inMemory.newSession(16)) {
                assertThat(session.prefill(tokens(5, 1))).isBetween(0, VOCAB - 1);
            }
        }
    }

    @Test
    void aRejectedBlockLeavesNoTrace() {
        int[] prompt = tokens(12, 30);
        int[] accepted = tokens(5, 31);
        try (DecodingSession clean = model.newSession(40); DecodingSession dirty = model.newSession(40)) {
            clean.prefill(prompt);
            dirty.prefill(prompt);

            // dirty: a whole block rejected
            dirty.forward(tokens(8, 32));
            dirty.commit(0);
            assertThat(dirty.position()).isEqualTo(clean.position());

            Logits a = clean.forwardLogits(accepted);
            Logits b = dirty.forwardLogits(accepted);
            for (int t = 0; t < accepted.length; t++) {
                assertThat(b.row(t)).as("row %d after commit(0)", t).containsExactly(a.row(t));
            }
            clean.commit(5);

            // dirty: the same 5 tokens accepted as the prefix of a longer block whose tail is rejected
            int[] longer = Arrays.copyOf(accepted, 9);
            System.arraycopy(tokens(4, 33), 0, longer, 5, 4);
            dirty.forward(longer);
            dirty.commit(5);
            assertThat(dirty.position()).isEqualTo(clean.position()).isEqualTo(17);

            // later blocks of any length see the same context
            for (int length : new int[]{1, 3, 8}) {
                int[] block = tokens(length, 40 + length);
                Logits x = clean.forwardLogits(block);
                Logits y = dirty.forwardLogits(block);
                for (int t = 0; t < length; t++) {
                    assertClose(y.row(t), x.row(t), "block of " + length + ", row " + t);
                }
                clean.commit(1);
                dirty.commit(1);
            }
            assertThat(dirty.prefill(new int[]{7, 8})).isEqualTo(clean.prefill(new int[]{7, 8}));
        }
    }

    @Test
    void rewindThenReplayGivesTheSameLogits() {
        try (DecodingSession session = model.newSession(32)) {
            int[] prompt = tokens(10, 50);
            session.prefill(prompt);
            Logits first = session.forwardLogits(tokens(4, 51));
            session.commit(4);
            session.prefill(tokens(6, 52));
            session.rewind(10);
            Logits again = session.forwardLogits(tokens(4, 51));
            for (int t = 0; t < 4; t++) {
                assertThat(again.row(t)).containsExactly(first.row(t));
            }
        }
    }

    private static void assertClose(float[] actual, float[] expected, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        float worst = 0;
        for (int i = 0; i < actual.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as("max |logit difference| at %s", what).isLessThanOrEqualTo(LOGIT_TOLERANCE);
    }
}
