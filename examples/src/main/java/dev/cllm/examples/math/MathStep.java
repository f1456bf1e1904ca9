package dev.cllm.examples.math;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One sentence of a problem, and the canonical step of the worked solution that restates it and computes with it.
 * Slots in braces: {@code {name}}, {@code {pro}} (he, she), the story's words ({@code {items}}, {@code {gain}},
 * {@code {lose}}, {@code {container}}, {@code {containers}}, {@code {recipient}}, {@code {recipients}}), and the
 * numbers: {@code {k}} the step's count, {@code {m}} the items per container, {@code {t}} the total before the step,
 * {@code {p}} the product {@code k x m}, {@code {r}} the total after it.
 *
 * <p>Every step writes one equation per operation, {@code a op b = c .}, with the running total on the left of
 * {@code +}, {@code -} and {@code /}: the text is regular enough to check and to predict.
 */
enum MathStep {
    /** The person starts with {@code k} items. */
    START("{name} has {k} {items} .", 0),
    /** The person starts with {@code k} containers of {@code m} items. */
    START_GROUPS("{name} has {k} {containers} of {m} {items} . {k} x {m} = {r} .", 1),
    /** Gains {@code k} items. */
    GAIN("{pro} {gain} {k} more . {t} + {k} = {r} .", 1),
    /** Loses {@code k} items. */
    LOSE("{pro} {lose} {k} . {t} - {k} = {r} .", 1),
    /** Gains {@code k} containers of {@code m} items. */
    GAIN_GROUPS("{pro} {gain} {k} {containers} of {m} . {k} x {m} = {p} . {t} + {p} = {r} .", 2),
    /** Shares the items equally among {@code k} recipients: the last step, the answer is one share. */
    SHARE("{pro} shares them among {k} {recipients} . {t} / {k} = {r} .", 1);

    /** What the solution ends with: {@code final answer 17}. */
    static final String FINAL_ANSWER = "final answer {r}";

    private static final Pattern SLOT = Pattern.compile("\\{(\\w+)}");

    private final String solution;
    private final int equations;

    MathStep(String solution, int equations) {
        this.solution = solution;
        this.equations = equations;
    }

    /** The canonical solution step: the same for every phrasing. */
    String solution() {
        return solution;
    }

    /** How many equations the solution step writes. */
    int equations() {
        return equations;
    }

    /** {@code template} with every slot replaced by its value in {@code slots}. */
    static String fill(String template, Map<String, String> slots) {
        Matcher m = SLOT.matcher(template);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String value = slots.get(m.group(1));
            if (value == null) {
                throw new IllegalArgumentException("no value for slot {" + m.group(1) + "} in " + template);
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(value));
        }
        return m.appendTail(sb).toString();
    }

    /** The literal words of a template: everything but the slots. */
    static List<String> literalWords(String template) {
        String literal = SLOT.matcher(template).replaceAll(" ").trim();
        return literal.isEmpty() ? List.of() : List.of(literal.split(" +"));
    }
}
