package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingConfig.NoiseSchedule;
import dev.cllm.api.Trajectory;
import dev.cllm.data.TrajectoryRecord;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** Records grouped into answers, and answers packed with the noisy states the schedule picks. */
class PackedAnswersTest {
    private static final int EOS = 2;
    private static final TrainingConfig JF = TrainingConfig.builder()
            .objective(TrainingConfig.Objective.JACOBI_FORCING).noiseWindow(2).build();

    /**
     * The records of one prompt as collection writes them: block b (n = 3) has fixed point {@code [b0, b0+1, b0+2]},
     * b0 = 10 + 3b (or the given fixed points), and two states: the initial guess (wrong after its first token) and
     * the fixed point.
     */
    private static List<TrajectoryRecord> prompt(long index, TokenIds prompt, List<TokenIds> fixedPoints) {
        List<TrajectoryRecord> out = new ArrayList<>();
        TokenIds context = prompt;
        for (int b = 0; b < fixedPoints.size(); b++) {
            TokenIds y = fixedPoints.get(b);
            TokenIds guess = TokenIds.of(y.get(0), 90, 91);
            out.add(TrajectoryRecord.of(new Trajectory(index, b, context, List.of(guess, y), TokenIds.empty()),
                    prompt.size()));
            context = context.concat(y);
        }
        return out;
    }

    /** {@link #prompt} whose records carry the ground-truth answer {@code answer}. */
    private static List<TrajectoryRecord> prompt(long index, TokenIds prompt, List<TokenIds> fixedPoints,
                                                 TokenIds answer) {
        return prompt(index, prompt, fixedPoints).stream().map(r -> {
            Trajectory t = r.trajectory();
            return TrajectoryRecord.of(new Trajectory(t.promptIndex(), t.block(), t.context(), t.states(), answer),
                    r.promptLength());
        }).toList();
    }

    private static List<TokenIds> blocks(int count) {
        List<TokenIds> out = new ArrayList<>();
        for (int b = 0; b < count; b++) {
            out.add(TokenIds.of(10 + 3 * b, 11 + 3 * b, 12 + 3 * b));
        }
        return out;
    }

    @Test
    void consecutiveBlocksOfAPromptFormOneAnswerAfterTheirPrompt() {
        List<TrajectoryRecord> records = new ArrayList<>(prompt(0, TokenIds.of(1, 5), blocks(3)));
        records.addAll(prompt(1, TokenIds.of(1, 6, 7), blocks(2)));
        PackedAnswers packed = PackedAnswers.of(records, JF, Set.of(EOS), 1000);
        assertThat(packed.size()).isEqualTo(2);
        assertThat(packed.skipped()).isZero();
        PackedAnswers.Answer first = packed.answers().get(0);
        assertThat(first.context()).isEqualTo(TokenIds.of(1, 5));
        assertThat(first.promptLength()).isEqualTo(2);
        assertThat(first.blocks()).hasSize(3);
        assertThat(first.stop()).isEqualTo(3);
        assertThat(packed.answers().get(1).blocks()).hasSize(2);
        assertThat(packed.answers().get(1).firstRecord()).isEqualTo(3);

        TrainingConfig answerOnly = JF.toBuilder().arOnPrompt(false).build();
        PackedAnswers noPrompt = PackedAnswers.of(records, answerOnly, Set.of(EOS), 1000);
        assertThat(noPrompt.answers().get(0).promptLength()).isZero();
        assertThat(noPrompt.get(0, 0).arPositions()).as("the answer's 9 tokens").isEqualTo(9);
        assertThat(packed.get(0, 0).arPositions()).as("and the prompt's second token").isEqualTo(10);
    }

    @Test
    void theWindowPicksTheFixedPointThenTheGuessForAlternateBlocks() {
        PackedAnswers packed = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), blocks(3)), JF, Set.of(EOS), 1000);
        PackedSequence s = packed.get(0, 0);   // window 2: targets 0, 1, 0
        assertThat(s.length()).isEqualTo(2 + 2 * 3 * 3);
        int[] ids = new int[s.length()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = s.id(i);
        }
        assertThat(ids).containsExactly(1, 5, 10, 11, 12, 10, 11, 12, 13, 90, 91, 13, 14, 15, 16, 17, 18, 16, 17, 18);
        assertThat(s.consistencyPositions()).as("only block 1 is noisy: offsets 1 and 2").isEqualTo(2);

        TrainingConfig reverse = JF.toBuilder().noiseSchedule(NoiseSchedule.REVERSE).build();
        PackedSequence r = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), blocks(3)), reverse, Set.of(EOS), 1000)
                .get(0, 0);   // targets 1, 0, 1
        assertThat(r.consistencyPositions()).isEqualTo(4);
        assertThat(r.id(2 + 1)).isEqualTo(90);
    }

    @Test
    void aBlockWithAStopTokenEndsTheAnswerAndTheBlocksAfterItAreLeftOut() {
        List<TokenIds> fixed = new ArrayList<>(blocks(4));
        fixed.set(1, TokenIds.of(13, 14, EOS));   // EOS at offset 2 of block 1
        PackedAnswers packed = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), fixed), JF, Set.of(EOS), 1000);
        assertThat(packed.size()).isEqualTo(1);
        PackedAnswers.Answer a = packed.answers().get(0);
        assertThat(a.blocks()).hasSize(2);
        assertThat(a.stop()).isEqualTo(2);
        PackedSequence s = packed.get(0, 0);
        // block 1, the guess [13, 90, 91] against [13, 14, 2]: offset 1 predicts EOS; offset 2 (after it) is left out
        assertThat(s.consistencyPositions()).isEqualTo(1);
        assertThat(s.arTargets()).endsWith(13, 14, EOS);
    }

    @Test
    void aGapOrAnotherPromptStartsANewAnswerAfterTheContextOfItsFirstBlock() {
        List<TrajectoryRecord> records = new ArrayList<>(prompt(0, TokenIds.of(1, 5), blocks(4)));
        records.remove(1);   // a block dropped by cleaning
        records.add(TrajectoryRecord.of(new Trajectory(3, 0, TokenIds.of(1, 8), List.of(TokenIds.of(4, 4)),
                TokenIds.empty()), 2));
        records.add(1, new TrajectoryRecord(records.get(0).trajectory(), 2, TokenIds.empty(), TokenIds.empty(), true));
        PackedAnswers packed = PackedAnswers.of(records, JF, Set.of(EOS), 1000);
        assertThat(packed.answers()).hasSize(3);
        assertThat(packed.answers().get(0).blocks()).hasSize(1);   // the augmented copy is left out
        PackedAnswers.Answer rest = packed.answers().get(1);
        assertThat(rest.blocks()).extracting(Trajectory::block).containsExactly(2, 3);
        assertThat(rest.context()).isEqualTo(TokenIds.of(1, 5, 10, 11, 12, 13, 14, 15));
        assertThat(rest.promptLength()).as("its prompt was scored with block 0").isZero();
        assertThat(packed.answers().get(2).context()).isEqualTo(TokenIds.of(1, 8));
    }

    @Test
    void aLongAnswerIsSplitToFitAndABlockThatCannotFitIsSkipped() {
        TrainingConfig short20 = JF.toBuilder().maxSequenceLength(20).build();
        // context 2 + 2·3 per block: 3 blocks (20 tokens) fit; block 3 starts a part after 11 context tokens (17),
        // block 4 one after 14 (20)
        PackedAnswers packed = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), blocks(5)), short20, Set.of(EOS), 1000);
        assertThat(packed.answers()).extracting(a -> a.blocks().size()).containsExactly(3, 1, 1);
        assertThat(packed.answers()).extracting(a -> a.context().size()).containsExactly(2, 11, 14);
        assertThat(packed.skipped()).isZero();
        for (int i = 0; i < packed.size(); i++) {
            assertThat(packed.get(i, 0).length()).isLessThanOrEqualTo(20);
        }

        TrainingConfig short16 = JF.toBuilder().maxSequenceLength(16).build();
        PackedAnswers tight = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), blocks(5)), short16, Set.of(EOS), 1000);
        // 2 blocks (14 tokens), block 2 alone after 8 tokens (14); blocks 3 and 4 need 17 and 20 even alone: skipped
        assertThat(tight.answers()).extracting(a -> a.blocks().size()).containsExactly(2, 1);
        assertThat(tight.skipped()).isEqualTo(2);

        // the model's positions bound P + Tn wherever the answer is split: block 2 needs 11 positions, the model has 10
        PackedAnswers positions = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), blocks(3)), JF, Set.of(EOS), 10);
        assertThat(positions.answers()).extracting(a -> a.blocks().size()).containsExactly(2);
        assertThat(positions.skipped()).isEqualTo(1);
    }

    @Test
    void withLabelsAnAnswerFromItsPromptCarriesTheGroundTruthEndedByAStopToken() {
        TrainingConfig labels = JF.toBuilder().arTarget(TrainingConfig.ArTarget.LABELS).build();
        List<TrajectoryRecord> records = new ArrayList<>(prompt(0, TokenIds.of(1, 5), blocks(2), TokenIds.of(20, 21)));
        records.addAll(prompt(1, TokenIds.of(1, 6), blocks(1)));                                 // no ground truth
        records.addAll(prompt(2, TokenIds.of(1, 7), blocks(1), TokenIds.of(30, EOS, 31)));      // stops inside
        PackedAnswers packed = PackedAnswers.of(records, labels, Set.of(EOS, 4), 1000);
        assertThat(packed.answers()).extracting(PackedAnswers.Answer::gold)
                .containsExactly(TokenIds.of(20, 21, EOS), TokenIds.empty(), TokenIds.of(30, EOS));
        assertThat(packed.answers()).extracting(PackedAnswers.Answer::cleanAr).containsExactly(false, true, false);
        PackedSequence s = packed.get(0, 0);
        assertThat(s.length()).isEqualTo(2 + 2 * 2 * 3 + 2);
        assertThat(s.arTargets()).containsExactly(5, 20, 21, EOS);   // the prompt's pair, then the ground truth's

        // the teacher's output unless asked: the answers are ignored, and the consistency term is the same
        PackedAnswers teacher = PackedAnswers.of(records, JF, Set.of(EOS), 1000);
        assertThat(s.students()).containsExactly(teacher.get(0, 0).students());
        assertThat(teacher.answers()).extracting(PackedAnswers.Answer::gold).containsOnly(TokenIds.empty());
        assertThat(teacher.answers()).extracting(PackedAnswers.Answer::cleanAr).containsOnly(true);
        assertThat(teacher.get(0, 0).arTargets()).containsExactly(5, 10, 11, 12, 13, 14, 15);
    }

    @Test
    void aSplitAnswerScoresItsGroundTruthOnceAndOneThatCannotFitKeepsTheFixedPoints() {
        TrainingConfig labels = JF.toBuilder().arTarget(TrainingConfig.ArTarget.LABELS).maxSequenceLength(20).build();
        // the ground truth [20 21 EOS] adds 2 inputs: 2 blocks (2 + 12 + 2 = 16) fit with it, a third (22) does not
        PackedAnswers packed = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), blocks(5), TokenIds.of(20, 21)), labels,
                Set.of(EOS), 1000);
        assertThat(packed.answers()).extracting(a -> a.blocks().size()).containsExactly(2, 2, 1);
        assertThat(packed.answers()).extracting(PackedAnswers.Answer::gold)
                .containsExactly(TokenIds.of(20, 21, EOS), TokenIds.empty(), TokenIds.empty());
        assertThat(packed.answers()).extracting(PackedAnswers.Answer::cleanAr).containsExactly(false, false, false);
        assertThat(packed.get(1, 0).arPositions()).as("scored with the first part").isZero();
        for (int i = 0; i < packed.size(); i++) {
            assertThat(packed.get(i, 0).length()).isLessThanOrEqualTo(20);
        }

        // 9 tokens and EOS: their inputs need positions 2..10, the model has 10; the AR term stays on the fixed points
        PackedAnswers positions = PackedAnswers.of(prompt(0, TokenIds.of(1, 5), blocks(2),
                TokenIds.of(20, 21, 22, 23, 24, 25, 26, 27, 28)), labels, Set.of(EOS), 10);
        assertThat(positions.answers()).extracting(PackedAnswers.Answer::gold).containsOnly(TokenIds.empty());
        assertThat(positions.answers()).extracting(PackedAnswers.Answer::cleanAr).containsOnly(true);
        assertThat(positions.get(0, 0).arTargets()).containsExactly(5, 10, 11, 12, 13, 14, 15);
    }

    @Test
    void theAddedStopTokenIsTheOneTheModelEndedWithAndBadIdsAreRefused() {
        TrainingConfig labels = JF.toBuilder().arTarget(TrainingConfig.ArTarget.LABELS).build();
        // the model's answer ends with stop token 4, not with the smaller EOS 2
        List<TrajectoryRecord> records = new ArrayList<>(prompt(0, TokenIds.of(1, 5), List.of(TokenIds.of(10, 11, 12),
                TokenIds.of(13, 4, 9)), TokenIds.of(20, 21)));
        // the same prompt collected again from its first block (another file appended): a fresh answer
        records.addAll(prompt(0, TokenIds.of(1, 5), blocks(1), TokenIds.of(22)));
        PackedAnswers packed = PackedAnswers.of(records, labels, Set.of(EOS, 4), 1000, 100);
        assertThat(packed.answers()).extracting(PackedAnswers.Answer::gold)
                .containsExactly(TokenIds.of(20, 21, 4), TokenIds.of(22, EOS));
        assertThat(packed.answers()).extracting(PackedAnswers.Answer::cleanAr).containsExactly(false, false);

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PackedAnswers.of(prompt(7, TokenIds.of(1, 5),
                        blocks(1), TokenIds.of(20, 100)), labels, Set.of(EOS), 1000, 100))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("prompt 7")
                .hasMessageContaining("id 100").hasMessageContaining("vocabulary of 100");
    }
}
