package dev.cllm.examples.math;

import java.util.List;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Scores generated solutions by their final answer, and by exact match of the whole solution.
 *
 * <p><b>Final answer</b>: the number right after the first {@code final answer} of the text (whole words), digits
 * possibly separated by spaces as a token-by-token rendering writes them ({@code final answer 1 7} is 17). Whatever
 * follows the number is ignored: a decode that ran past the end of the solution is judged by the answer it committed
 * to. No {@code final answer}, no number right after it, a number with a leading zero or of more than
 * {@value #MAX_DIGITS} digits: no final answer, and the solution is wrong; it never throws.
 *
 * <p><b>Exact match</b>: equal strings after collapsing runs of whitespace and removing the spaces between two digits,
 * that is, the same tokens to {@link MathTokenizerFiles}' tokenizer.
 *
 * <p>Stateless; thread-safe.
 */
public final class MathEvaluator {
    /** Longest final answer read; gold answers have at most three digits. */
    static final int MAX_DIGITS = 9;

    private static final Pattern FINAL_ANSWER = Pattern.compile("(?<!\\S)final\\s+answer(?!\\S)");
    private static final Pattern NUMBER = Pattern.compile("\\s+([0-9]+(?:\\s+[0-9]+)*)(?!\\S)");
    private static final Pattern SPACE_BETWEEN_DIGITS = Pattern.compile("(?<=[0-9]) (?=[0-9])");

    private MathEvaluator() {
    }

    /** The final answer of {@code solution}; empty if it has none (see the class comment) or is null. */
    public static OptionalInt finalAnswer(String solution) {
        if (solution == null) {
            return OptionalInt.empty();
        }
        Matcher cue = FINAL_ANSWER.matcher(solution);
        if (!cue.find()) {
            return OptionalInt.empty();
        }
        Matcher number = NUMBER.matcher(solution).region(cue.end(), solution.length());
        if (!number.lookingAt()) {
            return OptionalInt.empty();
        }
        String digits = number.group(1).replaceAll("\\s+", "");
        if (digits.length() > MAX_DIGITS || digits.length() > 1 && digits.charAt(0) == '0') {
            return OptionalInt.empty();
        }
        return OptionalInt.of(Integer.parseInt(digits));
    }

    /** Whether {@code predicted}'s final answer is {@code gold}'s. */
    public static boolean answerMatch(MathExample gold, String predicted) {
        OptionalInt answer = finalAnswer(predicted);
        return answer.isPresent() && answer.getAsInt() == gold.finalAnswer();
    }

    /** Whether the two solutions are the same tokens (see the class comment); false for null. */
    public static boolean exactMatch(String gold, String predicted) {
        return gold != null && predicted != null && normalize(gold).equals(normalize(predicted));
    }

    /**
     * Scores {@code predictions.get(i)} against {@code golds.get(i)}; a null prediction has no final answer.
     *
     * @throws IllegalArgumentException if the lists differ in size
     */
    public static MathScore score(List<MathExample> golds, List<String> predictions) {
        if (golds.size() != predictions.size()) {
            throw new IllegalArgumentException(golds.size() + " gold examples but " + predictions.size()
                    + " predictions");
        }
        int correct = 0;
        int exact = 0;
        int unparsed = 0;
        for (int i = 0; i < golds.size(); i++) {
            MathExample gold = golds.get(i);
            String predicted = predictions.get(i);
            if (answerMatch(gold, predicted)) {
                correct++;
                exact += exactMatch(gold.solution(), predicted) ? 1 : 0;
            } else if (finalAnswer(predicted).isEmpty()) {
                unparsed++;
            }
        }
        return new MathScore(golds.size(), correct, exact, unparsed);
    }

    private static String normalize(String solution) {
        return SPACE_BETWEEN_DIGITS.matcher(solution.strip().replaceAll("\\s+", " ")).replaceAll("");
    }
}
