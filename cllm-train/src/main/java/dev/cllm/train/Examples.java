package dev.cllm.train;

import dev.cllm.data.TrajectoryRecord;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingConfig.ArTarget;
import dev.cllm.api.TrainingConfig.ConsistencyLoss;
import dev.cllm.api.Trajectory;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The examples of one training run, indexed so that example i of epoch e is the same on every run with the same seed:
 * shuffling, state sampling and resumption need no stored random state.
 */
final class Examples implements ExampleSource {
    /** A source of examples: trajectory records or plain token sequences. */
    private final List<TrajectoryRecord> records;
    private final List<int[]> sequences;
    private final int[] lossStarts;   // language-model training: first token of each sequence that is scored
    private final int[] stateOfExample;   // ALL sampling: example -> state index (record index in recordOfExample)
    private final int[] recordOfExample;
    private final TrainingConfig config;
    private final long skipped;
    /** Stop tokens (EOS): fixed-point tokens after the first of them are never decoded, so no loss reads them. */
    private final Set<Integer> stopIds;

    private Examples(List<TrajectoryRecord> records, List<int[]> sequences, int[] lossStarts, int[] recordOfExample,
                     int[] stateOfExample, TrainingConfig config, long skipped, Set<Integer> stopIds) {
        this.records = records;
        this.sequences = sequences;
        this.lossStarts = lossStarts;
        this.recordOfExample = recordOfExample;
        this.stateOfExample = stateOfExample;
        this.config = config;
        this.skipped = skipped;
        this.stopIds = Set.copyOf(stopIds);
    }

    /** Consistency training on trajectory records, with no stop tokens. */
    static Examples ofTrajectories(List<TrajectoryRecord> all, TrainingConfig config) {
        return ofTrajectories(all, config, Set.of());
    }

    /**
     * Consistency training on trajectory records; records longer than the maximum sequence length are skipped. In a
     * block whose fixed point contains a stop token, the positions after the first one are left out of both losses:
     * decoding ends there, and what a model predicts past EOS (collected only to finish the block) is not an answer
     * to learn.
     */
    static Examples ofTrajectories(List<TrajectoryRecord> all, TrainingConfig config, Set<Integer> stopIds) {
        List<TrajectoryRecord> kept = new ArrayList<>();
        long skipped = 0;
        for (TrajectoryRecord r : all) {
            Trajectory t = r.trajectory();
            int length = Math.max(t.context().size() + t.blockSize(), r.fullLabels().size());
            if (length > config.maxSequenceLength()) {
                skipped++;
            } else {
                kept.add(r);
            }
        }
        List<Integer> recordIndex = new ArrayList<>();
        List<Integer> stateIndex = new ArrayList<>();
        for (int i = 0; i < kept.size(); i++) {
            int states = kept.get(i).trajectory().states().size();
            int choices = config.stateSampling() == TrainingConfig.StateSampling.ALL ? Math.max(1, states - 1) : 1;
            for (int s = 0; s < choices; s++) {
                recordIndex.add(i);
                stateIndex.add(config.stateSampling() == TrainingConfig.StateSampling.ALL ? s : -1);
            }
        }
        return new Examples(kept, List.of(), null, recordIndex.stream().mapToInt(Integer::intValue).toArray(),
                stateIndex.stream().mapToInt(Integer::intValue).toArray(), config, skipped, stopIds);
    }

    /** Language-model training on token sequences (each at least 2 tokens); longer ones are skipped. */
    static Examples ofSequences(List<int[]> all, TrainingConfig config) {
        return ofSequences(all, new int[all.size()], config);
    }

    /**
     * Language-model training on token sequences, scoring only the tokens from {@code lossStarts[i]} on in sequence
     * i (for example the answer after a prompt; 0 or 1 scores every predicted token). Sequences shorter than 2 tokens,
     * longer than the maximum length, or with nothing to score are skipped.
     */
    static Examples ofSequences(List<int[]> all, int[] lossStarts, TrainingConfig config) {
        if (lossStarts.length != all.size()) {
            throw new IllegalArgumentException(lossStarts.length + " loss starts for " + all.size() + " sequences");
        }
        List<int[]> kept = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        long skipped = 0;
        for (int i = 0; i < all.size(); i++) {
            int[] s = all.get(i);
            int start = Math.max(1, lossStarts[i]);
            if (lossStarts[i] < 0) {
                throw new IllegalArgumentException("sequence " + i + ": negative loss start " + lossStarts[i]);
            }
            if (s.length < 2 || s.length > config.maxSequenceLength() || start >= s.length) {
                skipped++;
            } else {
                kept.add(s);
                starts.add(start);
            }
        }
        return new Examples(List.of(), kept, starts.stream().mapToInt(Integer::intValue).toArray(), null, null,
                config, skipped, Set.of());
    }

    @Override
    public int size() {
        return records.isEmpty() ? sequences.size() : recordOfExample.length;
    }

    @Override
    public long skipped() {
        return skipped;
    }

    /** The permutation of epoch {@code epoch}: a seeded Fisher-Yates shuffle. */
    @Override
    public int[] order(int epoch) {
        return permutation(size(), config.seed(), epoch);
    }

    @Override
    public TrainingExample get(int index, int epoch) {
        return example(index, epoch);
    }

    /** A seeded Fisher-Yates shuffle of {@code 0..size-1}, a function of (seed, epoch) alone. */
    static int[] permutation(int size, long seed, int epoch) {
        int[] order = new int[size];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(mix(seed, epoch, -1));
        for (int i = order.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /** Example {@code index} (in file order) as seen in epoch {@code epoch}. */
    Example example(int index, int epoch) {
        if (records.isEmpty()) {
            int[] s = sequences.get(index);
            return new Example(null, null, 0, 0, s, lossStarts[index] - 1, s.length - 1);
        }
        TrajectoryRecord record = records.get(recordOfExample[index]);
        Trajectory t = record.trajectory();
        int states = t.states().size();
        int state = stateOfExample[index];
        if (state < 0) {   // ONE_SAMPLED: a state drawn per record and epoch
            int choices = states - 1;   // the intermediate states; the fixed point alone teaches only the AR term
            state = choices <= 0 ? states - 1
                    : new SplittableRandom(mix(config.seed(), epoch, recordOfExample[index])).nextInt(choices);
        }
        return consistencyExample(record, state);
    }

    private Example consistencyExample(TrajectoryRecord record, int state) {
        Trajectory t = record.trajectory();
        int contextLength = t.context().size();
        int n = t.blockSize();
        TokenIds y = t.states().get(state);
        TokenIds target = config.consistencyLoss() == ConsistencyLoss.LOCAL && state + 1 < t.states().size()
                ? t.states().get(state + 1) : t.fixedPoint();
        int[] student = t.context().concat(y).toArray();
        int[] teacher = t.context().concat(target).toArray();
        int firstDifference = 0;
        while (firstDifference < n && y.get(firstDifference) == target.get(firstDifference)) {
            firstDifference++;
        }
        // the prediction of block token k reads block tokens 0..k-1: it differs only for k > firstDifference
        int from = Math.min(contextLength + firstDifference, contextLength + n - 1);
        int to = contextLength + n - 1;
        int stop = firstStop(t.fixedPoint());   // block index of the first stop token, or n
        if (stop < n) {
            to = Math.max(from, Math.min(to, contextLength + stop));   // predictions of tokens 0..stop only
        }
        int[] fixedPointInput = target == t.fixedPoint() ? teacher : t.teacherOutput().toArray();
        TokenIds labels = record.fullLabels();
        if (config.arTarget() == ArTarget.LABELS && !labels.isEmpty()) {
            int[] labelIds = labels.toArray();
            return new Example(student, teacher, from, to, labelIds, 0, labelIds.length - 1);
        }
        // AR on the teacher output: the fixed point's tokens after the context
        return new Example(student, teacher, from, to, fixedPointInput, contextLength - 1,
                contextLength + Math.min(n - 1, stop));
    }

    private int firstStop(TokenIds block) {
        for (int i = 0; i < block.size(); i++) {
            if (stopIds.contains(block.get(i))) {
                return i;
            }
        }
        return block.size();
    }

    /** A stable 64-bit mix of the seed and two indices (SplitMix64 finalizer). */
    static long mix(long seed, long a, long b) {
        long z = seed + 0x9E3779B97F4A7C15L * (a + 1) + 0xBF58476D1CE4E5B9L * (b + 2);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
