package dev.cllm.examples.math;

import java.util.Objects;

/**
 * One word problem with its canonical worked solution.
 *
 * @param question    lowercase words, numbers and punctuation separated by single spaces
 * @param solution    the one canonical worked solution: one equation per operation, ending in
 *                    {@code final answer <finalAnswer>}
 * @param finalAnswer the answer, a non-negative number
 * @param story       the story family the problem is drawn from
 * @param phrasing    the wording of the question
 * @param split       which split the example belongs to
 */
public record MathExample(String question, String solution, int finalAnswer, MathStory story, MathPhrasing phrasing,
                          Split split) {
    /** Training examples, and held-out ones with (story, phrasing) pairs no training example has. */
    public enum Split { TRAIN, HELD_OUT }

    public MathExample {
        Objects.requireNonNull(question, "question");
        Objects.requireNonNull(solution, "solution");
        Objects.requireNonNull(story, "story");
        Objects.requireNonNull(phrasing, "phrasing");
        Objects.requireNonNull(split, "split");
        if (finalAnswer < 0) {
            throw new IllegalArgumentException("finalAnswer must be >= 0, got " + finalAnswer);
        }
        if (!solution.endsWith(" final answer " + finalAnswer)) {
            throw new IllegalArgumentException("solution does not end with 'final answer " + finalAnswer + "': "
                    + solution);
        }
    }
}
