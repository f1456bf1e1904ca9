package dev.cllm.examples.math;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A wording of the questions, shared by every {@link MathStory}: one sentence template per {@link MathStep} and
 * the closing question (slots as in {@link MathStep}). The worked solution does not depend on the phrasing, so a
 * model must map each wording onto the one canonical solution.
 */
public enum MathPhrasing {
    PLAIN("{name} has {k} {items} .",
            "{name} has {k} {containers} with {m} {items} in each {container} .",
            "then {pro} {gain} {k} more {items} .",
            "then {pro} {lose} {k} {items} .",
            "then {pro} {gain} {k} {containers} with {m} {items} in each {container} .",
            "then {pro} shares the {items} equally among {k} {recipients} .",
            "how many {items} does {name} have now ?",
            "how many {items} does each {recipient} get ?"),
    SEQUENCE("at first {name} has {k} {items} .",
            "at first {name} has {k} {containers} of {m} {items} each .",
            "after that {pro} {gain} another {k} {items} .",
            "after that {pro} {lose} {k} of the {items} .",
            "after that {pro} {gain} {k} {containers} of {m} {items} each .",
            "after that {pro} splits the {items} evenly among {k} {recipients} .",
            "how many {items} does {pro} have at the end ?",
            "how many {items} does every {recipient} receive ?"),
    NARRATIVE("{name} starts with {k} {items} .",
            "{name} starts with {k} {containers} , and each {container} holds {m} {items} .",
            "next , {name} {gain} {k} extra {items} .",
            "next , {name} {lose} {k} {items} .",
            "next , {name} {gain} {k} {containers} , and each {container} holds {m} {items} .",
            "next , {name} gives all the {items} to {k} {recipients} in equal parts .",
            "how many {items} are there in the end ?",
            "how many {items} are in each part ?"),
    COUNTING("in the morning {name} counts {k} {items} .",
            "in the morning {name} counts {k} {containers} holding {m} {items} each .",
            "later {pro} {gain} {k} {items} more .",
            "later {pro} {lose} {k} {items} .",
            "later {pro} {gain} {k} {containers} holding {m} {items} each .",
            "finally {pro} divides the {items} equally between {k} {recipients} .",
            "what is the number of {items} {name} has now ?",
            "what is the number of {items} for one {recipient} ?");

    private final Map<MathStep, String> sentences = new EnumMap<>(MathStep.class);
    private final String ask;
    private final String askShare;

    MathPhrasing(String start, String startGroups, String gain, String lose, String gainGroups, String share,
                 String ask, String askShare) {
        sentences.put(MathStep.START, start);
        sentences.put(MathStep.START_GROUPS, startGroups);
        sentences.put(MathStep.GAIN, gain);
        sentences.put(MathStep.LOSE, lose);
        sentences.put(MathStep.GAIN_GROUPS, gainGroups);
        sentences.put(MathStep.SHARE, share);
        this.ask = ask;
        this.askShare = askShare;
    }

    /** The question's sentence template for {@code step}. */
    String sentence(MathStep step) {
        return sentences.get(step);
    }

    /** The closing question: how many items the person has, or, after {@link MathStep#SHARE}, one share. */
    String ask(boolean shared) {
        return shared ? askShare : ask;
    }

    /** Every template of this phrasing. */
    List<String> templates() {
        List<String> out = new ArrayList<>(sentences.values());
        out.add(ask);
        out.add(askShare);
        return out;
    }
}
