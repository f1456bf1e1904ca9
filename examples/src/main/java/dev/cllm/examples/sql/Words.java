package dev.cllm.examples.sql;

import java.util.List;

/** The word lists the task's names and values are drawn from; all lowercase, one word each. */
final class Words {
    private Words() {
    }

    static final List<String> PEOPLE = split("anna ben carla david elena felix grace hugo iris jack karen leo maria "
            + "nina oscar paula quinn rosa sam tina victor wendy yuki zoe omar lena marco sofia ivan emma");
    /** Names of things: concerts, stadiums, books, teams, hotels, ... */
    static final List<String> TITLES = split("apollo atlas aurora beacon cedar comet crystal delta eagle echo "
            + "falcon galaxy harbor horizon jupiter lotus maple meteor nova orbit phoenix pioneer polaris quartz "
            + "river sierra summit sunrise thunder titan unity vertex zenith");
    static final List<String> CITIES = split("paris london tokyo berlin madrid rome cairo lima oslo dublin vienna "
            + "prague seoul delhi sydney toronto chicago boston lisbon athens");
    static final List<String> COUNTRIES = split("france germany japan spain italy egypt peru norway ireland austria "
            + "brazil canada india china mexico");
    static final List<String> COLORS = split("red blue green black white yellow purple orange");
    static final List<String> GENRES = split("rock pop jazz folk blues drama comedy horror mystery fantasy");
    static final List<String> SUBJECTS = split("math physics biology history art music chemistry economics law "
            + "medicine geography literature philosophy statistics");
    static final List<String> DEPARTMENTS = split("sales finance marketing research support legal design security "
            + "logistics training planning quality");
    static final List<String> PRODUCTS = split("laptop phone camera tablet watch printer monitor speaker keyboard "
            + "mouse router headset");

    static List<String> split(String words) {
        return List.of(words.split(" "));
    }
}
