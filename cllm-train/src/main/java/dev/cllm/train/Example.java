package dev.cllm.train;

/**
 * One training example: the token sequences of its forward passes and the positions each loss term reads.
 *
 * <p>Logit position t predicts the token at t + 1. The consistency term compares the student's and the teacher's
 * predictions at positions {@code [consistencyFrom, consistencyTo)}; the AR term scores {@code arInput[t + 1]} at
 * positions {@code [arFrom, arTo)} of the pass over {@code arInput}.
 *
 * @param student         the student's input (context + a Jacobi state), or null for language-model training
 * @param teacher         the teacher's input (context + fixed point, or + the next state), same length as
 *                        {@code student}; null for language-model training
 * @param consistencyFrom first consistency position
 * @param consistencyTo   end (exclusive) of the consistency positions; equal to {@code consistencyFrom} when the
 *                        student's input equals the teacher's at every position that counts
 * @param arInput         input of the AR pass; the same array as {@code teacher} when that pass can be shared
 * @param arFrom          first AR position
 * @param arTo            end (exclusive) of the AR positions
 */
record Example(int[] student, int[] teacher, int consistencyFrom, int consistencyTo, int[] arInput, int arFrom,
               int arTo) implements TrainingExample {

    Example {
        if ((student == null) != (teacher == null)) {
            throw new IllegalArgumentException("student and teacher inputs come together");
        }
        if (student != null && student.length != teacher.length) {
            throw new IllegalArgumentException("student and teacher inputs differ in length: " + student.length
                    + " vs " + teacher.length);
        }
        int positions = teacher == null ? 0 : teacher.length - 1;
        if (consistencyFrom < 0 || consistencyTo < consistencyFrom
                || consistencyTo > consistencyFrom && consistencyTo > positions) {
            throw new IllegalArgumentException("consistency positions [" + consistencyFrom + ", " + consistencyTo
                    + ") outside an input of " + (positions + 1));
        }
        if (arInput == null || arFrom < 0 || arFrom > arTo || arTo > arInput.length - 1) {
            throw new IllegalArgumentException("AR positions [" + arFrom + ", " + arTo + ") outside an input of "
                    + (arInput == null ? 0 : arInput.length));
        }
    }

    /** Whether the AR term can read the teacher's pass (same input). */
    boolean arSharesTeacher() {
        return arInput == teacher;
    }

    @Override
    public long consistencyPositions() {
        return consistencyTo - consistencyFrom;
    }

    @Override
    public long arPositions() {
        return arTo - arFrom;
    }

    /** The AR pass and the student pass (a teacher pass of the same input as the AR pass is not counted again). */
    @Override
    public long inputTokens() {
        return arInput.length + (student == null ? 0 : student.length);
    }

    int length() {
        return Math.max(teacher == null ? 0 : teacher.length, arInput.length);
    }
}
