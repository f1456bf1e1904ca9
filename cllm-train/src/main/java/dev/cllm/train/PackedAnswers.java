package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.Trajectory;
import dev.cllm.data.TrajectoryRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The examples of a Jacobi Forcing run: trajectory records grouped into answers, each packed into one
 * {@link PackedSequence} per epoch, its noisy blocks picked by the noise schedule ({@link ProgressiveNoise}).
 *
 * <p><b>Grouping.</b> A prompt's blocks are consecutive records (as collection writes them); an answer is a run of
 * records of one prompt with consecutive block indices, one block size, each block's context the previous context
 * followed by the previous fixed point. A break in that chain (a block dropped by cleaning, records of another
 * prompt) starts a new answer whose context is its first block's context (the prompt and the fixed points before it).
 * An answer ends with the first block whose fixed point holds a stop token (EOS); the prompt's later blocks, generated
 * past the end of the answer, are left out. Augmented records (not decoded trajectories) are left out too.
 *
 * <p><b>Length.</b> A packed answer is at most {@code maxSequenceLength} tokens (P + 2Tn), and its last position
 * (P + Tn - 1) must exist in the model ({@code max_position_embeddings}). A longer answer is split into consecutive
 * parts that fit, each after the context of its first block (so its noisy blocks condition on the clean blocks of the
 * earlier parts); a block that does not fit even alone after its context is skipped and counted. The counts are
 * logged once.
 */
final class PackedAnswers implements ExampleSource {
    // the trainer's log: one logger for everything a run reports
    private static final Logger LOG = LoggerFactory.getLogger(TorchConsistencyTrainer.class);

    /**
     * Consecutive blocks of one answer that train together.
     *
     * @param context      the first block's context
     * @param promptLength the original prompt's length when the answer starts at its prompt's first block, else 0
     *                     (the AR term scores the prompt once), and 0 when it does not score the prompt at all
     * @param blocks       the blocks, in order
     * @param firstRecord  index of the first block's record in the data (keys the random schedule)
     * @param stop         offset of the first stop token in the last block's fixed point, or n
     */
    record Answer(TokenIds context, int promptLength, List<Trajectory> blocks, int firstRecord, int stop) {
    }

    private final List<Answer> answers;
    private final TrainingConfig config;
    private final long skipped;

    private PackedAnswers(List<Answer> answers, TrainingConfig config, long skipped) {
        this.answers = List.copyOf(answers);
        this.config = config;
        this.skipped = skipped;
    }

    /**
     * Groups {@code records} into answers that fit {@code config.maxSequenceLength()} tokens and {@code maxPositions}
     * positions; positions after a token of {@code stopIds} are not trained on.
     */
    static PackedAnswers of(List<TrajectoryRecord> records, TrainingConfig config, Set<Integer> stopIds,
                            int maxPositions) {
        Grouping g = new Grouping(config.maxSequenceLength(), maxPositions, stopIds, config.arOnPrompt());
        for (int i = 0; i < records.size(); i++) {
            g.add(records.get(i), i);
        }
        g.close();
        if (!records.isEmpty()) {
            LOG.info("Jacobi Forcing: {} records packed into {} sequences ({} answers split to fit {} tokens and {} "
                            + "positions, {} blocks skipped as too long even alone, {} blocks after a stop token and "
                            + "{} augmented records left out)", records.size() - g.skipped - g.afterStop - g.augmented,
                    g.answers.size(), g.split, config.maxSequenceLength(), maxPositions, g.skipped, g.afterStop,
                    g.augmented);
        }
        return new PackedAnswers(g.answers, config, g.skipped);
    }

    /** The answers, in data order. */
    List<Answer> answers() {
        return answers;
    }

    @Override
    public int size() {
        return answers.size();
    }

    /** Blocks skipped as too long even alone after their context. */
    @Override
    public long skipped() {
        return skipped;
    }

    @Override
    public int[] order(int epoch) {
        return Examples.permutation(size(), config.seed(), epoch);
    }

    /** Answer {@code index} packed with the noisy states the schedule picks in epoch {@code epoch}. */
    @Override
    public PackedSequence get(int index, int epoch) {
        Answer a = answers.get(index);
        List<TokenIds> noisy = new ArrayList<>(a.blocks().size());
        List<TokenIds> clean = new ArrayList<>(a.blocks().size());
        for (int j = 0; j < a.blocks().size(); j++) {
            Trajectory t = a.blocks().get(j);
            double target = ProgressiveNoise.target(config.noiseSchedule(), config.noiseWindow(), t.block(),
                    Examples.mix(config.seed(), epoch, a.firstRecord() + (long) j));
            noisy.add(t.states().get(ProgressiveNoise.pick(t.states(), target)));
            clean.add(t.fixedPoint());
        }
        return PackedSequence.of(a.context(), a.promptLength(), noisy, clean, a.stop());
    }

    /** The answer being built while the records stream past, and the counts. */
    private static final class Grouping {
        final int maxLength;
        final int maxPositions;
        final Set<Integer> stopIds;
        final boolean arOnPrompt;
        final List<Answer> answers = new ArrayList<>();
        long skipped;
        long afterStop;
        long augmented;
        long split;
        // the open answer, or context == null
        TokenIds context;
        int promptLength;
        List<Trajectory> blocks;
        int firstRecord;
        // the prompt and block of the last stop token seen: that prompt's later blocks are past its answer
        long stoppedPrompt = -1;
        int stoppedBlock = -1;

        Grouping(int maxLength, int maxPositions, Set<Integer> stopIds, boolean arOnPrompt) {
            this.maxLength = maxLength;
            this.maxPositions = maxPositions;
            this.stopIds = Set.copyOf(stopIds);
            this.arOnPrompt = arOnPrompt;
        }

        void add(TrajectoryRecord record, int index) {
            Trajectory t = record.trajectory();
            if (record.augmented()) {
                augmented++;
                return;
            }
            if (t.promptIndex() == stoppedPrompt && t.block() > stoppedBlock) {
                afterStop++;
                return;
            }
            boolean continues = context != null && continues(t);
            if (continues && fits(context.size(), blocks.size() + 1, t.blockSize())) {
                blocks.add(t);
            } else {
                if (continues) {
                    split++;
                }
                close();
                if (!fits(t.context().size(), 1, t.blockSize())) {
                    skipped++;
                    return;
                }
                context = t.context();
                promptLength = arOnPrompt && t.block() == 0 ? Math.min(record.promptLength(), context.size()) : 0;
                blocks = new ArrayList<>(List.of(t));
                firstRecord = index;
            }
            int stop = firstStop(t.fixedPoint());
            if (stop < t.blockSize()) {
                stoppedPrompt = t.promptIndex();
                stoppedBlock = t.block();
                answers.add(new Answer(context, promptLength, List.copyOf(blocks), firstRecord, stop));
                context = null;
            }
        }

        /** Whether {@code t} is the next block of the open answer. */
        private boolean continues(Trajectory t) {
            Trajectory last = blocks.get(blocks.size() - 1);
            if (t.promptIndex() != last.promptIndex() || t.block() != last.block() + 1
                    || t.blockSize() != last.blockSize()
                    || t.context().size() != last.context().size() + last.blockSize()) {
                return false;
            }
            return t.context().equals(last.context().concat(last.fixedPoint()));
        }

        private boolean fits(int contextLength, int blockCount, int n) {
            return contextLength + 2L * blockCount * n <= maxLength && contextLength + (long) blockCount * n
                    <= maxPositions;
        }

        void close() {
            if (context != null) {
                answers.add(new Answer(context, promptLength, List.copyOf(blocks), firstRecord,
                        blocks.get(0).blockSize()));
                context = null;
            }
        }

        private int firstStop(TokenIds block) {
            for (int i = 0; i < block.size(); i++) {
                if (stopIds.contains(block.get(i))) {
                    return i;
                }
            }
            return block.size();
        }
    }
}
