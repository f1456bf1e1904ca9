package dev.cllm.examples.math;

import java.util.ArrayList;
import java.util.List;

/**
 * A story family: what a problem is about, and the words its sentences are built from. A problem is a person who
 * owns some of the story's items, gains and loses some, and perhaps shares them out at the end. The items of
 * different stories are distinct, so a question names its story.
 */
public enum MathStory {
    SHOPPING(List.of("apples", "oranges", "pears", "lemons", "plums", "peaches"), "buys", "eats",
            "bag", "bags", "friend", "friends"),
    BAKING(List.of("cookies", "muffins", "cupcakes", "rolls", "pies"), "bakes", "sells",
            "tray", "trays", "neighbor", "neighbors"),
    COLLECTING(List.of("stamps", "cards", "shells", "stickers", "marbles"), "finds", "loses",
            "pack", "packs", "cousin", "cousins"),
    SAVINGS(List.of("coins", "dollars"), "receives", "spends",
            "envelope", "envelopes", "child", "children"),
    GARDENING(List.of("tulips", "roses", "daisies", "lilies"), "plants", "picks",
            "row", "rows", "vase", "vases"),
    SCHOOL(List.of("pencils", "crayons", "markers", "erasers", "notebooks"), "gets", "lends",
            "box", "boxes", "classmate", "classmates"),
    FARMING(List.of("eggs", "carrots", "potatoes"), "collects", "uses",
            "basket", "baskets", "family", "families");

    private final List<String> items;
    private final String gain;
    private final String lose;
    private final String container;
    private final String containers;
    private final String recipient;
    private final String recipients;

    MathStory(List<String> items, String gain, String lose, String container, String containers, String recipient,
              String recipients) {
        this.items = items;
        this.gain = gain;
        this.lose = lose;
        this.container = container;
        this.containers = containers;
        this.recipient = recipient;
        this.recipients = recipients;
    }

    /** The plural nouns a problem of this story counts, one per problem. */
    public List<String> items() {
        return items;
    }

    /** The verb (third person singular) by which the person gets more items: {@code buys}. */
    public String gain() {
        return gain;
    }

    /** The verb by which the person has fewer items: {@code eats}. */
    public String lose() {
        return lose;
    }

    /** What items come in groups of: {@code bag}. */
    public String container() {
        return container;
    }

    /** The plural of {@link #container()}. */
    public String containers() {
        return containers;
    }

    /** Who items are shared among: {@code friend}. */
    public String recipient() {
        return recipient;
    }

    /** The plural of {@link #recipient()}. */
    public String recipients() {
        return recipients;
    }

    /** Every word of the story. */
    List<String> words() {
        List<String> out = new ArrayList<>(items);
        out.addAll(List.of(gain, lose, container, containers, recipient, recipients));
        return out;
    }
}
