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
 * <p><b>Length.</b> A packed answer is at most {@code maxSequenceLength} tokens (P + 2Tn, plus A - 1 with a ground
 * truth of A tokens), and its last positions (P + Tn - 1, P + A - 2) must exist in the model
 * ({@code max_position_embeddings}). A longer answer is split into consecutive parts that fit, each after the context
 * of its first block (so its noisy blocks condition on the clean blocks of the earlier parts); a block that does not
 * fit even alone after its context is skipped and counted. The counts are logged once.
 *
 * <p><b>Ground truth.</b> With {@link TrainingConfig.ArTarget#LABELS}, an answer that starts at its prompt's first
 * block carries the record's ground-truth answer (its trajectory's {@code answer}, as collection stores it), up to
 * its first stop token or followed by one: the stop token the model's own answer ended with, or where the answer
 * does not stop in its first part, the smallest of {@code stopIds} (nothing when there are none). Its AR term scores
 * that instead of the fixed points ({@link PackedSequence}); the prompt's later parts then score no AR pairs of
 * their own. Records without a ground truth, answers that do not start at their prompt's first block (it was dropped
 * or skipped), and a ground truth that does not fit the length or positions beside its first block keep the AR term
 * on the fixed points (counted). A ground-truth id outside the vocabulary is refused, naming the prompt.
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
     * @param gold         the ground-truth answer after the context, ending with a stop token, or empty
     * @param cleanAr      whether the AR term scores the fixed points (false with a ground truth, here or in an
     *                     earlier part of the answer)
     */
    record Answer(TokenIds context, int promptLength, List<Trajectory> blocks, int firstRecord, int stop,
                  TokenIds gold, boolean cleanAr) {
    }

    private final List<Answer> answers;
    private final TrainingConfig config;
    private final long skipped;

    private PackedAnswers(List<Answer> answers, TrainingConfig config, long skipped) {
        this.answers = List.copyOf(answers);
        this.config = config;
        this.skipped = skipped;
    }

    /** {@link #of(List, TrainingConfig, Set, int, int)} for a model whose vocabulary holds every id. */
    static PackedAnswers of(List<TrajectoryRecord> records, TrainingConfig config, Set<Integer> stopIds,
                            int maxPositions) {
        return of(records, config, stopIds, maxPositions, Integer.MAX_VALUE);
    }

    /**
     * Groups {@code records} into answers that fit {@code config.maxSequenceLength()} tokens and {@code maxPositions}
     * positions; positions after a token of {@code stopIds} are not trained on.
     *
     * @throws IllegalArgumentException naming the prompt, when a ground truth the AR term would read holds an id
     *                                  outside the model's {@code vocabSize}
     */
    static PackedAnswers of(List<TrajectoryRecord> records, TrainingConfig config, Set<Integer> stopIds,
                            int maxPositions, int vocabSize) {
        Grouping g = new Grouping(config.maxSequenceLength(), maxPositions, stopIds, config.arOnPrompt(),
                config.arTarget() == TrainingConfig.ArTarget.LABELS, vocabSize);
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
            if (g.labels) {
                LOG.info("Jacobi Forcing: AR term on the ground truth of {} answers; on the fixed points of {} "
                        + "without one, {} whose ground truth does not fit and {} that do not start at their prompt's "
                        + "first block", g.withGold, g.withoutGold, g.goldTooLong, g.notAtPrompt);
            }
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
        return PackedSequence.of(a.context(), a.promptLength(), noisy, clean, a.stop(), a.gold(), a.cleanAr());
    }

    /** The answer being built while the records stream past, and the counts. */
    private static final class Grouping {
        final int maxLength;
        final int maxPositions;
        final Set<Integer> stopIds;
        final boolean arOnPrompt;
        final boolean labels;
        final int goldStop;
        final int vocabSize;
        final List<Answer> answers = new ArrayList<>();
        long skipped;
        long afterStop;
        long augmented;
        long split;
        long withGold;
        long withoutGold;
        long goldTooLong;
        long notAtPrompt;
        // the open answer, or context == null
        TokenIds context;
        int promptLength;
        List<Trajectory> blocks;
        int firstRecord;
        TokenIds gold;
        boolean goldAppended;   // whether gold's last token is a stop token added to the task's answer
        boolean cleanAr;
        // the prompt whose ground truth an earlier part carries: its later parts score no AR pairs
        long goldPrompt = -1;
        // the prompt and block of the last stop token seen: that prompt's later blocks are past its answer
        long stoppedPrompt = -1;
        int stoppedBlock = -1;

        Grouping(int maxLength, int maxPositions, Set<Integer> stopIds, boolean arOnPrompt, boolean labels,
                 int vocabSize) {
            this.maxLength = maxLength;
            this.maxPositions = maxPositions;
            this.stopIds = Set.copyOf(stopIds);
            this.arOnPrompt = arOnPrompt;
            this.labels = labels;
            this.goldStop = stopIds.stream().mapToInt(Integer::intValue).min().orElse(-1);
            this.vocabSize = vocabSize;
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
            if (continues && fits(context.size(), blocks.size() + 1, t.blockSize(), gold)) {
                blocks.add(t);
            } else {
                if (continues) {
                    split++;
                }
                close();
                if (!fits(t.context().size(), 1, t.blockSize(), TokenIds.empty())) {
                    skipped++;
                    return;
                }
                context = t.context();
                promptLength = arOnPrompt && t.block() == 0 ? Math.min(record.promptLength(), context.size()) : 0;
                blocks = new ArrayList<>(List.of(t));
                firstRecord = index;
                gold = TokenIds.empty();
                goldAppended = false;
                cleanAr = !labels || t.block() == 0 || t.promptIndex() != goldPrompt;
                if (labels && cleanAr && (t.block() != 0 || record.promptLength() != context.size())) {
                    notAtPrompt++;
                } else if (labels && cleanAr) {
                    TokenIds g = groundTruth(record);
                    if (g.isEmpty()) {
                        withoutGold++;
                    } else if (!fits(context.size(), 1, t.blockSize(), g)) {
                        goldTooLong++;
                    } else {
                        gold = g;
                        goldAppended = g.size() == record.trajectory().answer().size() + 1;   // a stop token added
                        cleanAr = false;
                        goldPrompt = t.promptIndex();
                        withGold++;
                    }
                }
            }
            int stop = firstStop(t.fixedPoint());
            if (stop < t.blockSize()) {
                stoppedPrompt = t.promptIndex();
                stoppedBlock = t.block();
                if (goldAppended) {   // end the ground truth with the stop token the model itself ended with
                    gold = gold.subSequence(0, gold.size() - 1).concat(TokenIds.of(t.fixedPoint().get(stop)));
                }
                answers.add(new Answer(context, promptLength, List.copyOf(blocks), firstRecord, stop, gold, cleanAr));
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

        /** Whether the blocks, and the inputs of a ground truth {@code g} (all but its last token), fit. */
        private boolean fits(int contextLength, int blockCount, int n, TokenIds g) {
            int goldInputs = Math.max(0, g.size() - 1);
            return contextLength + 2L * blockCount * n + goldInputs <= maxLength
                    && contextLength + (long) blockCount * n <= maxPositions
                    && contextLength + goldInputs <= maxPositions;
        }

        /**
         * The record's ground-truth answer after its prompt, up to its first stop token or followed by the smallest
         * of the stop ids (replaced by the model's own stop token where its answer ends); empty when it has none.
         */
        private TokenIds groundTruth(TrajectoryRecord record) {
            TokenIds g = record.trajectory().answer();   // verbatim labels that are not prompt + answer do not count
            if (g.isEmpty()) {
                return g;
            }
            for (int i = 0; i < g.size(); i++) {
                if (g.get(i) < 0 || g.get(i) >= vocabSize) {
                    throw new IllegalArgumentException("prompt " + record.trajectory().promptIndex() + ": answer token "
                            + i + " is id " + g.get(i) + ", outside the model's vocabulary of " + vocabSize);
                }
            }
            int stop = firstStop(g);
            if (stop < g.size()) {
                return g.subSequence(0, stop + 1);
            }
            return goldStop < 0 ? g : g.concat(TokenIds.of(goldStop));
        }

        void close() {
            if (context != null) {
                answers.add(new Answer(context, promptLength, List.copyOf(blocks), firstRecord,
                        blocks.get(0).blockSize(), gold, cleanAr));
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
