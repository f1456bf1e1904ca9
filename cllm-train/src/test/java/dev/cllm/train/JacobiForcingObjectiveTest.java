package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrainingConfig.Distance;
import dev.cllm.data.TrajectoryRecord;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchOptions;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
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
    static Path base;
    static List<TrajectoryRecord> records;

    @BeforeAll
    static void collect() throws IOException {
        // seed 20: its trajectories include an answer that stops at EOS (checked below), which seed 11's do not
        TinyTrainingData tiny = TinyTrainingData.collect(shared, 20);
        base = tiny.base();
        records = tiny.records();
    }

    /**
     * The tiny model, its final norm scaled by 8: a random model's next-token distributions are nearly uniform, so
     * student and teacher would agree to a KL of 1e-3, where rounding alone is a visible share; sharper logits make
     * the consistency term large against it.
     */
    private static LlamaModel load() {
        LlamaModel model = LlamaModel.load(base, LlamaConfig.read(base.resolve("config.json")),
                new TorchOptions("cpu", ComputeDtype.F32, CpuGemm.BLAS));
        try (PointerScope scope = new PointerScope()) {
            model.weights().get("norm").mul_(new Scalar(8.0));
        }
        model.weights().values().forEach(p -> p.requires_grad_(true));
        return model;
    }

    /** The loss terms of one backward pass and the gradients it left, by parameter name. */
    private record Result(double total, double consistency, double ar, Map<String, float[]> gradients) {
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
                    l.ar() == null ? 0 : l.ar().item_double(), gradients);
        }
    }

    /**
     * The reference: one causal pass over the context followed by the noisy blocks (the student), one over the context
     * followed by the fixed points (the teacher and the AR term), the pairs taken from the definitions.
     */
    private static TrainingObjective.Loss twoPasses(LlamaModel model, PackedSequence s, int promptLength) {
        return passes(model, s, promptLength, TokenIds.empty());
    }

    /**
     * {@link #twoPasses}, and with a ground truth {@code gold} a third causal pass over the context followed by it,
     * which the AR term then reads instead of the fixed points.
     */
    private static TrainingObjective.Loss passes(LlamaModel model, PackedSequence s, int promptLength,
                                                 TokenIds gold) {
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
        Tensor ar = Losses.autoregressive(arLogits.index_select(1, longs(logitsAt, logitsAt.length)),
                longs(targets, 1, targets.length), floats(ones, 1, ones.length), JF.labelSmoothing(), logitsAt.length);
        return new TrainingObjective.Loss(consistency.add(ar.mul(new Scalar(JF.arWeight()))), consistency, ar);
    }

    private static void assertClose(Result actual, Result expected, String what) {
        assertThat(relative(actual.total(), expected.total())).as("%s: total %s vs %s", what, actual.total(),
                expected.total()).isLessThan(1e-5);
        assertThat(relative(actual.consistency(), expected.consistency())).as("%s: consistency %s vs %s", what,
                actual.consistency(), expected.consistency()).isLessThan(1e-5);
        assertThat(relative(actual.ar(), expected.ar())).as("%s: AR %s vs %s", what, actual.ar(), expected.ar())
                .isLessThan(1e-5);
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
        int checked = 0;
        boolean multiBlock = false;
        boolean stopped = false;
        try (LlamaModel model = load()) {
            for (int i = 0; i < answers.size(); i++) {
                PackedSequence s = answers.get(i, 0);
                if (s.consistencyPositions() == 0) {
                    continue;
                }
                Result packed = backward(model, () -> objective.of(model, List.of(s), CPU, s.consistencyPositions(),
                        s.arPositions()));
                int promptLength = answers.answers().get(i).promptLength();
                Result reference = backward(model, () -> twoPasses(model, s, promptLength));
                assertClose(packed, reference, "answer " + i);
                checked++;
                multiBlock |= s.blocks() > 1;
                stopped |= answers.answers().get(i).stop() < s.blockSize();
            }
        }
        assertThat(checked).as("answers with noisy blocks").isGreaterThanOrEqualTo(3);
        assertThat(multiBlock).as("an answer of several blocks").isTrue();
        assertThat(stopped).as("an answer that ends in EOS").isTrue();
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
                Result reference = backward(model, () -> passes(model, s, promptLength, gold));
                assertClose(packed, reference, "answer " + i + " with ground truth " + gold);
                checked++;
            }
        }
        assertThat(checked).as("answers with a ground truth").isGreaterThanOrEqualTo(4);
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
        JacobiForcingObjective oneRow = new JacobiForcingObjective(JF, Integer.MAX_VALUE);
        JacobiForcingObjective rowEach = new JacobiForcingObjective(JF, 1);
        assertThat(JacobiForcingObjective.rows(batch, Integer.MAX_VALUE)).hasSize(1);
        assertThat(JacobiForcingObjective.rows(batch, 1)).hasSize(batch.size());
        try (LlamaModel model = load()) {
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
            assertClose(new Result(rank0.total() + rank1.total(), rank0.consistency() + rank1.consistency(),
                    rank0.ar() + rank1.ar(), summed), together, "two ranks summed vs one process");
        }
    }
}
