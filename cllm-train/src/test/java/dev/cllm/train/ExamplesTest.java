package dev.cllm.train;

import dev.cllm.data.TrajectoryRecord;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.Trajectory;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Which positions each loss term reads, on a hand-made trajectory. */
class ExamplesTest {
    // context [7, 8, 9]; n = 4; fixed point [1, 2, 3, 4]
    private static final Trajectory T = new Trajectory(0, 0, TokenIds.of(7, 8, 9),
            List.of(TokenIds.of(1, 5, 3, 6), TokenIds.of(1, 2, 3, 6), TokenIds.of(1, 2, 3, 4)), TokenIds.empty());

    @Test
    void globalLossComparesPredictionsThatReadAWrongTokenAndArScoresTheFixedPoint() {
        TrainingConfig config = TrainingConfig.builder().stateSampling(TrainingConfig.StateSampling.ALL).build();
        Examples examples = Examples.ofTrajectories(List.of(TrajectoryRecord.of(T, 3)), config);
        assertThat(examples.size()).isEqualTo(2);   // the two intermediate states
        Example first = examples.example(0, 0);
        assertThat(first.student()).containsExactly(7, 8, 9, 1, 5, 3, 6);
        assertThat(first.teacher()).containsExactly(7, 8, 9, 1, 2, 3, 4);
        // block token 1 is wrong: the predictions of block tokens 2 and 3 (logit positions 4 and 5) read it
        assertThat(first.consistencyFrom()).isEqualTo(4);
        assertThat(first.consistencyTo()).isEqualTo(6);
        assertThat(first.arSharesTeacher()).isTrue();
        // AR: logit positions 2..5 predict the fixed point 1, 2, 3, 4
        assertThat(first.arFrom()).isEqualTo(2);
        assertThat(first.arTo()).isEqualTo(6);
        Example second = examples.example(1, 0);
        // only the last token is wrong: no prediction inside the block reads it
        assertThat(second.consistencyTo()).isEqualTo(second.consistencyFrom());
    }

    @Test
    void localLossTargetsTheNextState() {
        TrainingConfig config = TrainingConfig.builder().stateSampling(TrainingConfig.StateSampling.ALL)
                .consistencyLoss(TrainingConfig.ConsistencyLoss.LOCAL).build();
        Example first = Examples.ofTrajectories(List.of(TrajectoryRecord.of(T, 3)), config).example(0, 0);
        assertThat(first.teacher()).containsExactly(7, 8, 9, 1, 2, 3, 6);
        assertThat(first.arSharesTeacher()).isFalse();
        assertThat(first.arInput()).containsExactly(7, 8, 9, 1, 2, 3, 4);
    }

    @Test
    void labelsReplaceTheTeacherOutputWhenAsked() {
        Trajectory withAnswer = new Trajectory(0, 0, TokenIds.of(7, 8, 9), T.states(), TokenIds.of(11, 12));
        TrainingConfig config = TrainingConfig.builder().arTarget(TrainingConfig.ArTarget.LABELS).build();
        Example e = Examples.ofTrajectories(List.of(TrajectoryRecord.of(withAnswer, 3)), config).example(0, 0);
        assertThat(e.arInput()).containsExactly(7, 8, 9, 11, 12);
        assertThat(e.arFrom()).isZero();
        assertThat(e.arTo()).isEqualTo(4);
    }

    @Test
    void shufflingAndSamplingDependOnlyOnSeedEpochAndIndex() {
        TrainingConfig config = TrainingConfig.builder().seed(5).build();
        Examples a = Examples.ofTrajectories(List.of(TrajectoryRecord.of(T, 3), TrajectoryRecord.of(T, 3),
                TrajectoryRecord.of(T, 3)), config);
        Examples b = Examples.ofTrajectories(List.of(TrajectoryRecord.of(T, 3), TrajectoryRecord.of(T, 3),
                TrajectoryRecord.of(T, 3)), config);
        for (int epoch = 0; epoch < 5; epoch++) {
            assertThat(a.order(epoch)).containsExactly(b.order(epoch));
            for (int i = 0; i < 3; i++) {
                assertThat(a.example(i, epoch).student()).containsExactly(b.example(i, epoch).student());
            }
        }
    }

    @Test
    void tooLongExamplesAreSkippedAndCounted() {
        TrainingConfig config = TrainingConfig.builder().maxSequenceLength(6).build();
        Examples examples = Examples.ofTrajectories(List.of(TrajectoryRecord.of(T, 3)), config);
        assertThat(examples.size()).isZero();
        assertThat(examples.skipped()).isEqualTo(1);
    }

    @Test
    void languageModelLossStartsAtTheAnswer() {
        TrainingConfig config = TrainingConfig.builder().objective(TrainingConfig.Objective.LANGUAGE_MODEL).build();
        int[] prompt3Answer2 = {1, 10, 11, 20, 21};
        int[] whole = {1, 5, 6};
        Examples examples = Examples.ofSequences(List.of(prompt3Answer2, whole), new int[]{3, 0}, config);
        // logit t predicts token t + 1: the answer tokens 3 and 4 are predicted at positions 2 and 3
        Example answerOnly = examples.example(0, 0);
        assertThat(answerOnly.arFrom()).isEqualTo(2);
        assertThat(answerOnly.arTo()).isEqualTo(4);
        Example all = examples.example(1, 0);
        assertThat(all.arFrom()).isZero();
        assertThat(all.arTo()).isEqualTo(2);
    }

    @Test
    void sequencesWithNothingToScoreAreSkipped() {
        TrainingConfig config = TrainingConfig.builder().objective(TrainingConfig.Objective.LANGUAGE_MODEL).build();
        Examples examples = Examples.ofSequences(List.of(new int[]{1, 2, 3}), new int[]{3}, config);
        assertThat(examples.size()).isZero();
        assertThat(examples.skipped()).isEqualTo(1);
    }

    @Test
    void nothingAfterTheFirstStopTokenOfTheFixedPointIsTrainedOn() {
        // fixed point [1, 2, 3, 4] with EOS = 2 at block index 1: only tokens 0 and 1 count
        TrainingConfig config = TrainingConfig.builder().stateSampling(TrainingConfig.StateSampling.ALL).build();
        Examples examples = Examples.ofTrajectories(List.of(TrajectoryRecord.of(T, 3)), config, java.util.Set.of(2));
        Example first = examples.example(0, 0);   // state [1, 5, 3, 6]: wrong from index 1 on
        assertThat(first.arFrom()).isEqualTo(2);
        assertThat(first.arTo()).isEqualTo(4);     // predictions of block tokens 0 and 1 (the EOS)
        assertThat(first.consistencyTo()).isEqualTo(first.consistencyFrom());   // token 1 reads only the correct token 0
        Example noStop = Examples.ofTrajectories(List.of(TrajectoryRecord.of(T, 3)), config).example(0, 0);
        assertThat(noStop.arTo()).isEqualTo(6);
        assertThat(noStop.consistencyTo()).isEqualTo(6);
    }
}
