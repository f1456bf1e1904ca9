package dev.cllm.train;

import dev.cllm.api.TrainingConfig;
import dev.cllm.data.TrajectoryRecord;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.cllm.torch.Tensors.longs;
import static dev.cllm.torch.Tensors.toFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The CLLM objective's anchor term, against KL divergences summed position by position in Java. */
class ConsistencyObjectiveTest {
    @TempDir
    static Path shared;
    static TinyTrainingData tiny;
    static List<TrajectoryRecord> records;

    @BeforeAll
    static void collect() throws IOException {
        tiny = TinyTrainingData.collect(shared);
        records = tiny.records();
    }

    private static LlamaModel load(double sharpen) {
        return tiny.sharpened(sharpen);
    }

    /** Σ over the AR positions of KL(anchor ‖ model), each example in a pass of its own, over all AR positions. */
    private static double expectedAnchor(LlamaModel model, LlamaModel anchor, List<Example> examples) {
        double sum = 0;
        long positions = 0;
        for (Example e : examples) {
            int[] in = e.arInput();
            long[] ids = new long[in.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = in[i];
            }
            float[] q;
            float[] p;
            try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
                q = toFloats(model.logits(longs(ids, 1, ids.length)));
                p = toFloats(anchor.logits(longs(ids, 1, ids.length)));
            }
            int vocab = q.length / ids.length;
            for (int t = e.arFrom(); t < e.arTo(); t++) {
                double[] logP = logSoftmax(p, t * vocab, vocab);
                double[] logQ = logSoftmax(q, t * vocab, vocab);
                for (int v = 0; v < vocab; v++) {
                    sum += Math.exp(logP[v]) * (logP[v] - logQ[v]);
                }
                positions++;
            }
        }
        return sum / positions;
    }

    private static double[] logSoftmax(float[] logits, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[from + i]);
        }
        double z = 0;
        for (int i = 0; i < n; i++) {
            z += Math.exp(logits[from + i] - max);
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = logits[from + i] - max - Math.log(z);
        }
        return out;
    }

    @Test
    void theAnchorTermIsTheMeanKlFromTheFrozenModelAtTheArPositionsWithEitherConsistencyLoss() {
        for (TrainingConfig.ConsistencyLoss kind : TrainingConfig.ConsistencyLoss.values()) {
            TrainingConfig plain = TrainingConfig.builder().consistencyLoss(kind).build();
            TrainingConfig anchored = plain.toBuilder().anchorWeight(4).build();
            Examples examples = Examples.ofTrajectories(records, anchored);
            // global: the AR term reads the teacher's pass; local, before a trajectory's last state: a pass of its own
            boolean shares = kind == TrainingConfig.ConsistencyLoss.GLOBAL;
            List<Example> batch = new ArrayList<>();
            for (int i = 0; i < examples.size() && batch.size() < 6; i++) {
                Example e = examples.example(i, 0);
                if (e.arSharesTeacher() == shares) {
                    batch.add(e);
                }
            }
            assertThat(batch).as(kind.name()).hasSize(6);
            try (LlamaModel model = load(8); LlamaModel anchor = load(3); PointerScope scope = new PointerScope()) {
                Batch b = Batch.of(batch, Tensors.CPU);
                TrainingObjective.Loss with = new ConsistencyObjective(anchored, anchor).of(model, b,
                        b.consistencyPositions, b.arPositions);
                TrainingObjective.Loss without = new ConsistencyObjective(plain).of(model, b, b.consistencyPositions,
                        b.arPositions);
                double expected = expectedAnchor(model, anchor, batch);
                assertThat(expected).as("%s: the two models differ", kind).isGreaterThan(1e-3);
                assertThat(with.anchor().item_double()).as(kind.name()).isCloseTo(expected,
                        org.assertj.core.data.Percentage.withPercentage(1e-3));
                assertThat(with.total().item_double()).as(kind.name()).isCloseTo(
                        without.total().item_double() + 4 * expected,
                        org.assertj.core.data.Percentage.withPercentage(1e-3));
                assertThat(without.anchor()).isNull();
            }
        }
    }

    @Test
    void withoutAnArTermTheAnchorStillReadsTheArPositionsAndMovesTheWeights() {
        for (TrainingConfig.ConsistencyLoss kind : TrainingConfig.ConsistencyLoss.values()) {
            TrainingConfig anchored = TrainingConfig.builder().consistencyLoss(kind).arWeight(0).anchorWeight(4)
                    .build();
            Examples examples = Examples.ofTrajectories(records, anchored);
            List<Example> batch = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                batch.add(examples.example(i, 0));
            }
            try (LlamaModel model = load(8); LlamaModel anchor = load(3); PointerScope scope = new PointerScope()) {
                Batch b = Batch.of(batch, Tensors.CPU);
                TrainingObjective.Loss loss = new ConsistencyObjective(anchored, anchor).of(model, b,
                        b.consistencyPositions, b.arPositions);
                assertThat(loss.ar()).as(kind.name()).isNull();
                assertThat(loss.anchor().item_double()).as(kind.name()).isCloseTo(expectedAnchor(model, anchor, batch),
                        org.assertj.core.data.Percentage.withPercentage(1e-3));
                assertThat(loss.total().item_double()).as(kind.name()).isCloseTo(loss.consistency().item_double()
                        + 4 * loss.anchor().item_double(), org.assertj.core.data.Percentage.withPercentage(1e-4));
                loss.anchor().backward();   // the anchor term alone: its gradient reaches the trained weights
                double norm = 0;
                for (var p : model.weights().values()) {
                    if (p.grad().defined()) {
                        norm += p.grad().norm().item_double();
                    }
                }
                assertThat(norm).as("%s: the anchor term's gradient", kind).isGreaterThan(1e-4);
            }
        }
    }

    @Test
    void anAnchorComesExactlyWithAnAnchorWeight() {
        TrainingConfig anchored = TrainingConfig.builder().anchorWeight(1).build();
        assertThatThrownBy(() -> new ConsistencyObjective(anchored, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("anchor weight 1.0");
        try (LlamaModel anchor = load(1)) {
            assertThatThrownBy(() -> new ConsistencyObjective(TrainingConfig.builder().build(), anchor))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("without an anchor weight");
        }
    }
}
