package dev.cllm.examples.math;

/**
 * How a list of generated solutions scored against the gold ones.
 *
 * @param examples      solutions scored
 * @param answerCorrect solutions whose final answer equals the gold answer (answer accuracy's numerator)
 * @param exactCorrect  solutions equal to the gold solution as the tokenizer sees them
 * @param unparsed      solutions without a parseable final answer (counted wrong)
 */
public record MathScore(int examples, int answerCorrect, int exactCorrect, int unparsed) {
    public MathScore {
        if (examples < 0 || answerCorrect < 0 || exactCorrect < 0 || unparsed < 0
                || answerCorrect + unparsed > examples || exactCorrect > answerCorrect) {
            throw new IllegalArgumentException("inconsistent counts: " + examples + " examples, " + answerCorrect
                    + " answer-correct, " + exactCorrect + " exact, " + unparsed + " unparsed");
        }
    }

    /** The share of solutions with the gold final answer; 0 when there are none. */
    public double answerAccuracy() {
        return examples == 0 ? 0 : (double) answerCorrect / examples;
    }

    /** The share of solutions equal to the gold one; 0 when there are none. */
    public double exactMatchAccuracy() {
        return examples == 0 ? 0 : (double) exactCorrect / examples;
    }
}
