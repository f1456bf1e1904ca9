package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrainingConfig.Distance;
import dev.cllm.data.TrajectoryRecord;
import dev.cllm.torch.LlamaModel;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

import static dev.cllm.torch.Tensors.floats;
import static dev.cllm.torch.Tensors.longs;
import static dev.cllm.torch.Tensors.toFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Jacobi Forcing's single packed pass on a tiny model and its own trajectories: the losses and gradients of two
 * separate causal passes (the noisy answer, the clean answer), of other row packings, and of a micro-batch split
 * across ranks.
 */
class JacobiForcingObjectiveTest {
    private static final int EOS = 2;
    private static final Device CPU = new Device("cpu");
    /** Window 3 so that the short answers (6 blocks of 4) get noisy blocks; the defaults ω 10, smoothing 0.1. */
    private static final TrainingConfig JF = TrainingConfig.builder()
            .objective(TrainingConfig.Objective.JACOBI_FORCING).noiseWindow(3).build();

    @TempDir
    static Path shared;
    static TinyTrainingData tiny;
    static List<TrajectoryRecord> records;

    @BeforeAll
    static void collect() throws IOException {
        // seed 20: its trajectories include an answer that stops at EOS (checked below), which seed 11's do not
        tiny = TinyTrainingData.collect(shared, 20);
        records = tiny.records();
    }

    /** The tiny model, its final norm scaled by 8 ({@link TinyTrainingData#sharpened}). */
    private static LlamaModel load() {
        return load(8.0);
    }

    private static LlamaModel load(double sharpen) {
        return tiny.sharpened(sharpen);
    }

    /** The loss terms of one backward pass and the gradients it left, by parameter name. */
    private record Result(double total, double consistency, double ar, double anchor,
                          Map<String, float[]> gradients) {
        Result(double total, double consistency, double ar, Map<String, float[]> gradients) {
            this(total, consistency, ar, 0, gradients);
        }
    }

    private static Result backward(LlamaModel model, Supplier<TrainingObjective.Loss> loss) {
        try (PointerScope scope = new PointerScope()) {
            TrainingObjective.Loss l = loss.get();
            l.total().backward();
            Map<String, float[]> gradients = new LinkedHashMap<>();
            model.weights().forEach((name, p) -> {
                gradients.put(name, toFloats(p.grad()));
                p.grad().zero_();
            });
            return new Result(l.total().item_double(), l.consistency().item_double(),
                    l.ar() == null ? 0 : l.ar().item_double(), l.anchor() == null ? 0 : l.anchor().item_double(),
                    gradients);
        }
    }

    /**
     * The reference: one causal pass over the context followed by the noisy blocks (the student), one over the context
     * followed by the fixed points (the teacher and the AR term), the pairs taken from the definitions.
     */
    private static TrainingObjective.Loss twoPasses(LlamaModel model, PackedSequence s, int promptLength) {
        return passes(model, s, promptLength, TokenIds.empty(), null, 0);
    }

    /**
     * {@link #twoPasses}, and with a ground truth {@code gold} a third causal pass over the context followed by it,
     * which the AR term then reads instead of the fixed points; with an {@code anchor}, its own causal pass over
     * what the AR term reads, and β times the KL from its distributions to the model's at the AR term's positions.
     */
    private static TrainingObjective.Loss passes(LlamaModel model, PackedSequence s, int promptLength,
                                                 TokenIds gold, LlamaModel anchor, double beta) {
        int p = s.contextLength();
        int n = s.blockSize();
        int t = s.blocks();
        long[] noisy = new long[p + t * n];
        long[] clean = new long[p + t * n];
        for (int i = 0; i < p; i++) {
            noisy[i] = s.id(i);
            clean[i] = s.id(i);
        }
        for (int j = 0; j < t; j++) {
            for (int r = 0; r < n; r++) {
                noisy[p + j * n + r] = s.id(p + 2 * j * n + r);
                clean[p + j * n + r] = s.id(p + (2 * j + 1) * n + r);
            }
        }
        int stop = n;
        for (int r = 0; r < n && stop == n; r++) {
            stop = clean[p + (t - 1) * n + r] == EOS ? r : n;
        }
        Tensor student = model.logits(longs(noisy, 1, noisy.length));   // [1, P + Tn, V]
        Tensor teacher = model.logits(longs(clean, 1, clean.length));   // [1, P + Tn, V]

        List<Long> pairs = new ArrayList<>();
        for (int j = 0; j < t; j++) {
            int d = 0;
            while (d < n && noisy[p + j * n + d] == clean[p + j * n + d]) {
                d++;
            }
            int last = j == t - 1 && stop < n ? stop - 1 : n - 1;
            for (int r = d; r <= last; r++) {
                pairs.add((long) (p + j * n + r));
            }
        }
        long[] at = pairs.stream().mapToLong(Long::longValue).toArray();
        float[] weights = new float[at.length];
        java.util.Arrays.fill(weights, 1f / t);
        Tensor consistency = Losses.consistency(student.index_select(1, longs(at, at.length)),
                teacher.index_select(1, longs(at, at.length)), floats(weights, 1, weights.length), Distance.FORWARD_KL,
                at.length);

        List<Long> arAt = new ArrayList<>();
        for (int i = 0; i + 1 < promptLength; i++) {
            arAt.add((long) i);
        }
        int end = p + (t - 1) * n + Math.min(stop + 1, n);   // clean tokens up to and including a stop token
        for (int i = p - 1; i + 1 < end; i++) {
            arAt.add((long) i);
        }
        long[] arStream = clean;
        Tensor arLogits = teacher;
        if (!gold.isEmpty()) {
            arAt.removeIf(i -> i >= p - 1);
            for (int i = p - 1; i < p + gold.size() - 1; i++) {
                arAt.add((long) i);
            }
            arStream = new long[p + gold.size()];
            for (int i = 0; i < arStream.length; i++) {
                arStream[i] = i < p ? s.id(i) : gold.get(i - p);
            }
            arLogits = model.logits(longs(java.util.Arrays.copyOf(arStream, arStream.length - 1), 1,
                    arStream.length - 1));   // [1, P + A - 1, V]
        }
        long[] logitsAt = arAt.stream().mapToLong(Long::longValue).toArray();
        long[] targets = new long[logitsAt.length];
        float[] ones = new float[logitsAt.length];
        for (int i = 0; i < logitsAt.length; i++) {
            targets[i] = arStream[(int) logitsAt[i] + 1];
            ones[i] = 1f;
        }
        Tensor predicted = arLogits.index_select(1, longs(logitsAt, logitsAt.length));
        Tensor ar = Losses.autoregressive(predicted, longs(targets, 1, targets.length), floats(ones, 1, ones.length),
                JF.labelSmoothing(), logitsAt.length);
        Tensor total = consistency.add(ar.mul(new Scalar(JF.arWeight())));
        if (anchor == null) {
            return new TrainingObjective.Loss(total, consistency, ar);
        }
        long[] read = gold.isEmpty() ? clean : java.util.Arrays.copyOf(arStream, arStream.length - 1);
        Tensor reference;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            reference = anchor.logits(longs(read, 1, read.length)).index_select(1, longs(logitsAt, logitsAt.length));
        }
        Tensor kl = Losses.consistency(predicted, reference, floats(ones, 1, ones.length), Distance.FORWARD_KL,
                logitsAt.length);
        return new TrainingObjective.Loss(total.add(kl.mul(new Scalar(beta))), consistency, ar, kl);
    }

    private static void assertClose(Result actual, Result expected, String what) {
        assertThat(relative(actual.total(), expected.total())).as("%s: total %s vs %s", what, actual.total(),
                expected.total()).isLessThan(1e-5);
        assertThat(relative(actual.consistency(), expected.consistency())).as("%s: consistency %s vs %s", what,
                actual.consistency(), expected.consistency()).isLessThan(1e-5);
        assertThat(relative(actual.ar(), expected.ar())).as("%s: AR %s vs %s", what, actual.ar(), expected.ar())
                .isLessThan(1e-5);
        assertThat(Math.abs(actual.anchor() - expected.anchor())).as("%s: anchor %s vs %s", what, actual.anchor(),
                expected.anchor()).isLessThanOrEqualTo(1e-5 * Math.abs(expected.anchor()) + 1e-9);
        expected.gradients().forEach((name, g) -> {
            float[] a = actual.gradients().get(name);
            double scale = 0;
            double diff = 0;
            for (int i = 0; i < g.length; i++) {
                scale = Math.max(scale, Math.abs(g[i]));
                diff = Math.max(diff, Math.abs(a[i] - g[i]));
            }
            assertThat(diff).as("%s: max |gradient difference| of %s (largest gradient %s)", what, name, scale)
                    .isLessThanOrEqualTo(1e-5 * scale + 1e-9);
        });
    }

    private static double relative(double a, double b) {
        return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
    }

    @Test
    void thePackedPassGivesTheLossesAndGradientsOfSeparateNoisyAndCleanPasses() {
        PackedAnswers answers = PackedAnswers.of(records, JF, Set.of(EOS), 64);
        JacobiForcingObjective objective = new JacobiForcingObjective(JF);
        List<Integer> checked;
        try (LlamaModel model = load()) {
            checked = againstSeparatePasses(answers, objective, model, null, 0);
        }
        assertThat(checked).as("answers with noisy blocks").hasSizeGreaterThanOrEqualTo(3);
        assertThat(checked).as("an answer of several blocks").anyMatch(i -> answers.get(i, 0).blocks() > 1);
        assertThat(checked).as("an answer that ends in EOS")
                .anyMatch(i -> answers.answers().get(i).stop() < answers.get(i, 0).blockSize());
    }

    /**
     * Compares the packed pass of {@code objective} with {@link #passes} on every answer with noisy blocks (epoch 0),
     * with an anchor of weight {@code beta} when {@code anchor} is given; returns the indices of the answers compared.
     */
    private static List<Integer> againstSeparatePasses(PackedAnswers answers, JacobiForcingObjective objective,
                                                       LlamaModel model, LlamaModel anchor, double beta) {
        List<Integer> checked = new ArrayList<>();
        for (int i = 0; i < answers.size(); i++) {
            PackedSequence s = answers.get(i, 0);
            if (s.consistencyPositions() == 0) {
                continue;
            }
            Result packed = backward(model, () -> objective.of(model, List.of(s), CPU, s.consistencyPositions(),
                    s.arPositions()));
            int promptLength = answers.answers().get(i).promptLength();
            Result reference = backward(model, () -> passes(model, s, promptLength, TokenIds.empty(), anchor, beta));
            if (anchor != null) {
                assertThat(packed.anchor()).as("answer %d: the anchor term", i).isGreaterThan(1e-3);
            }
            assertClose(packed, reference, "answer " + i + (anchor == null ? "" : " with an anchor"));
            checked.add(i);
        }
        return checked;
    }

    @Test
    void withAGroundTruthThePackedPassGivesTheLossesAndGradientsOfNoisyCleanAndGroundTruthPasses() {
        // each prompt's ground truth: a few tokens that are not its fixed points, the longer the later the prompt
        List<TrajectoryRecord> withAnswers = records.stream().map(r -> {
            Trajectory t = r.trajectory();
            int[] answer = new int[2 + (int) t.promptIndex()];
            for (int i = 0; i < answer.length; i++) {
                answer[i] = 3 + (int) ((7 * t.promptIndex() + 5 * i) % 27);
            }
            return TrajectoryRecord.of(new Trajectory(t.promptIndex(), t.block(), t.context(), t.states(),
                    TokenIds.of(answer)), r.promptLength());
        }).toList();
        TrainingConfig labels = JF.toBuilder().arTarget(TrainingConfig.ArTarget.LABELS).build();
        PackedAnswers answers = PackedAnswers.of(withAnswers, labels, Set.of(EOS), 64);
        JacobiForcingObjective objective = new JacobiForcingObjective(labels);
        int checked = 0;
        try (LlamaModel model = load()) {
            for (int i = 0; i < answers.size(); i++) {
                PackedSequence s = answers.get(i, 0);
                TokenIds gold = answers.answers().get(i).gold();
                if (gold.isEmpty()) {
                    continue;
                }
                assertThat(gold.get(gold.size() - 1)).isEqualTo(EOS);
                Result packed = backward(model, () -> objective.of(model, List.of(s), CPU, s.consistencyPositions(),
                        s.arPositions()));
                int promptLength = answers.answers().get(i).promptLength();
                Result reference = backward(model, () -> passes(model, s, promptLength, gold, null, 0));
                assertClose(packed, reference, "answer " + i + " with ground truth " + gold);
                checked++;
            }
        }
        assertThat(checked).as("answers with a ground truth").isGreaterThanOrEqualTo(4);
    }

    @Test
    void theAnchorTermIsTheKlFromTheFrozenModelsCleanPassAtTheArPositions() {
        TrainingConfig anchored = JF.toBuilder().anchorWeight(3).build();
        PackedAnswers answers = PackedAnswers.of(records, anchored, Set.of(EOS), 64);
        // the anchor: the same weights, less sharp, so that the two distributions differ everywhere
        try (LlamaModel model = load(); LlamaModel anchor = load(3.0)) {
            JacobiForcingObjective objective = new JacobiForcingObjective(anchored, 64, anchor);
            assertThat(againstSeparatePasses(answers, objective, model, anchor, 3)).hasSizeGreaterThanOrEqualTo(3);
            assertThatThrownBy(() -> new JacobiForcingObjective(anchored, 64, null))
                    .hasMessageContaining("anchor weight 3.0 needs the frozen model");
            assertThatThrownBy(() -> new JacobiForcingObjective(JF, 64, anchor))
                    .hasMessageContaining("without an anchor weight");
        }
    }

    @Test
    void anAnchorEqualToTheTrainedModelAddsNothing() {
        TrainingConfig anchored = JF.toBuilder().anchorWeight(5).build();
        PackedAnswers answers = PackedAnswers.of(records, anchored, Set.of(EOS), 64);
        List<PackedSequence> batch = new ArrayList<>();
        long c = 0;
        long a = 0;
        for (int i = 0; i < answers.size(); i++) {
            batch.add(answers.get(i, 0));
            c += batch.get(i).consistencyPositions();
            a += batch.get(i).arPositions();
        }
        long consistencyPositions = c;
        long arPositions = a;
        try (LlamaModel model = load(); LlamaModel copy = load()) {
            Result with = backward(model, () -> new JacobiForcingObjective(anchored, 64, copy).of(model, batch, CPU,
                    consistencyPositions, arPositions));
            Result without = backward(model, () -> new JacobiForcingObjective(JF, 64).of(model, batch, CPU,
                    consistencyPositions, arPositions));
            assertThat(new JacobiForcingObjective(anchored, 64, copy).of(model, batch, CPU, consistencyPositions,
                    arPositions).anchor()).as("the anchor term is there").isNotNull();
            assertThat(with.anchor()).as("KL of a model from itself").isLessThan(1e-6);
            assertClose(with, new Result(without.total(), without.consistency(), without.ar(), with.anchor(),
                    without.gradients()), "anchored to itself vs no anchor");
        }
    }

    @Test
    void answersSideBySideInOneRowOrSplitAcrossRanksGiveTheLossOfTheWholeMicroBatch() {
        PackedAnswers answers = PackedAnswers.of(records, JF, Set.of(EOS), 64);
        List<PackedSequence> batch = new ArrayList<>();
        long consistencyPositions = 0;
        long arPositions = 0;
        for (int i = 0; i < answers.size(); i++) {
            PackedSequence s = answers.get(i, 1);
            batch.add(s);
            consistencyPositions += s.consistencyPositions();
            arPositions += s.arPositions();
        }
        assertThat(batch.size()).isGreaterThanOrEqualTo(4);
        long c = consistencyPositions;
        long a = arPositions;
        assertThat(JacobiForcingObjective.rows(batch, Integer.MAX_VALUE)).hasSize(1);
        assertThat(JacobiForcingObjective.rows(batch, 1)).hasSize(batch.size());
        TrainingConfig anchored = JF.toBuilder().anchorWeight(2).build();   // the anchor term is divided the same way
        try (LlamaModel model = load(); LlamaModel anchor = load(3.0)) {
            JacobiForcingObjective oneRow = new JacobiForcingObjective(anchored, Integer.MAX_VALUE, anchor);
            JacobiForcingObjective rowEach = new JacobiForcingObjective(anchored, 1, anchor);
            Result together = backward(model, () -> oneRow.of(model, batch, CPU, c, a));
            Result apart = backward(model, () -> rowEach.of(model, batch, CPU, c, a));
            assertClose(together, apart, "one row vs a row per answer");

            // two ranks: each its half, each term divided by the whole micro-batch's positions; the sums are the whole
            int half = batch.size() / 2;
            Result rank0 = backward(model, () -> oneRow.of(model, batch.subList(0, half), CPU, c, a));
            Result rank1 = backward(model, () -> oneRow.of(model, batch.subList(half, batch.size()), CPU, c, a));
            Map<String, float[]> summed = new LinkedHashMap<>();
            rank0.gradients().forEach((name, g) -> {
                float[] s = g.clone();
                float[] other = rank1.gradients().get(name);
                for (int i = 0; i < s.length; i++) {
                    s[i] += other[i];
                }
                summed.put(name, s);
            });
            assertThat(together.anchor()).isGreaterThan(1e-3);
            assertClose(new Result(rank0.total() + rank1.total(), rank0.consistency() + rank1.consistency(),
                    rank0.ar() + rank1.ar(), rank0.anchor() + rank1.anchor(), summed), together,
                    "two ranks summed vs one process");
        }
    }
}
