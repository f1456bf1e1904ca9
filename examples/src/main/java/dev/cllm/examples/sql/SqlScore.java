package dev.cllm.examples.sql;

/**
 * How a list of predicted SQL queries scored against the gold ones.
 *
 * @param examples          predictions scored
 * @param executionCorrect  predictions whose result equals the gold result (execution accuracy's numerator)
 * @param exactCorrect      predictions equal to the gold SQL up to whitespace
 * @param failed            predictions that were refused or did not execute (counted wrong)
 */
public record SqlScore(int examples, int executionCorrect, int exactCorrect, int failed) {
    public SqlScore {
        if (examples < 0 || executionCorrect < 0 || exactCorrect < 0 || failed < 0
                || executionCorrect + failed > examples || exactCorrect > executionCorrect) {
            throw new IllegalArgumentException("inconsistent counts: " + examples + " examples, " + executionCorrect
                    + " execution-correct, " + exactCorrect + " exact, " + failed + " failed");
        }
    }

    /** The share of predictions with the gold result; 0 when there are none. */
    public double executionAccuracy() {
        return examples == 0 ? 0 : (double) executionCorrect / examples;
    }

    /** The share of predictions equal to the gold SQL up to whitespace; 0 when there are none. */
    public double exactMatchAccuracy() {
        return examples == 0 ? 0 : (double) exactCorrect / examples;
    }
}
