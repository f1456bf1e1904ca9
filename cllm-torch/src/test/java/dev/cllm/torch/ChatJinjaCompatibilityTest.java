package dev.cllm.torch;

import dev.cllm.api.ChatMessage;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.cllm.api.ChatMessage.assistant;
import static dev.cllm.api.ChatMessage.user;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Where Jinjava differs from the Python Jinja2 that transformers renders chat templates with, one test per
 * difference. Each expected string is what Jinja2 3.1, set up as transformers sets it up, renders.
 */
class ChatJinjaCompatibilityTest {
    private static final Clock SEP_3_2024 = Clock.fixed(Instant.parse("2024-09-03T12:00:00Z"), ZoneOffset.UTC);
    private static final List<ChatMessage> HELLO = List.of(user("hello"));

    private static String render(String template, List<ChatMessage> messages) {
        return JinjaChatTemplate.of(template, Map.of("bos_token", "<s>", "eos_token", "</s>"), Set.of(), SEP_3_2024)
                .render(messages, true);
    }

    private static String render(String template) {
        return render(template, HELLO);
    }

    // ------------------------------------------------------------------------------------------ whitespace

    /** transformers: {@code trim_blocks=True, lstrip_blocks=True}; Jinjava's default keeps both. */
    @Test
    void blockTagsOnTheirOwnLinesLeaveNoBlankLinesOrIndentation() {
        assertThat(render("{% for m in messages %}\n    {% if true %}\n[{{ m.content }}]\n    {% endif %}\n"
                + "{% endfor %}\n")).isEqualTo("[hello]\n");
    }

    /** Jinjava's lstripBlocks also strips the spaces in front of a tag that does not start its line. */
    @Test
    void onlyIndentationThatStartsALineIsStrippedBeforeBlockTags() {
        assertThat(render("a {% if true %}b{% endif %}c")).isEqualTo("a bc");
        assertThat(render("a {% set x = 1 %} b")).isEqualTo("a  b");
        assertThat(render("{{ 'a' }}  {% if true %}b{% endif %}")).isEqualTo("a  b");
        assertThat(render("a\n\t  {% if true %}b{% endif %}")).isEqualTo("a\nb");
        assertThat(render("  {%+ if true %}x{% endif %}")).isEqualTo("  x");
    }

    /** Jinjava ignores the dash of {@code {{-}} and {@code -}}} unless told otherwise. */
    @Test
    void dashesOnExpressionsStripWhitespace() {
        assertThat(render("a\n    {%- if true %}\n        {{- 'x' }}\n    {%- endif %}\nb")).isEqualTo("axb");
        assertThat(render("a\n  {{- 'x' -}}  \nb")).isEqualTo("axb");
    }

    /** Told to honour {@code {#-}, Jinjava strips both sides of the comment. */
    @Test
    void commentsStripWhitespaceAsInJinja2() {
        assertThat(render("b {#- c #} d")).isEqualTo("b d");
        assertThat(render("b {# c #} d")).isEqualTo("b  d");
        assertThat(render("b {# c -#} d")).isEqualTo("b d");
        assertThat(render("b\n  {# c #}\nd")).isEqualTo("b\nd");
        assertThat(render("a\n    {#- c -#}\n   b")).isEqualTo("ab");
        assertThat(render("x{# c #}\n  {% if true %}y{% endif %}")).isEqualTo("xy");
    }

    /** Tags inside raw blocks and delimiters inside string literals are text, not tags. */
    @Test
    void rawBlocksAndStringLiteralsAreLeftAlone() {
        assertThat(render("{% raw %}  {# keep #} {% if %}{% endraw %}z")).isEqualTo("  {# keep #} {% if %}z");
        assertThat(render("{{ '%}' }}  {% if true %}q{% endif %}")).isEqualTo("%}  q");
    }

    /** Jinja2 drops one newline at the end of a template ({@code keep_trailing_newline=False}); Jinjava keeps it. */
    @Test
    void aTrailingNewlineOfTheTemplateIsDropped() {
        assertThat(render("{{ messages[0].content }}\n")).isEqualTo("hello");
        assertThat(render("{{ messages[0].content }}\n\n")).isEqualTo("hello\n");
    }

    // ------------------------------------------------------------------------------------------ operators

    /**
     * In Jinja2 {@code not} binds more loosely than comparisons, {@code in} and {@code is}; Jinjava binds it to the
     * next operand ({@code not 'system' in role} was {@code (not 'system') in role}: MPT's template).
     */
    @Test
    void notAppliesToTheWholeComparison() {
        assertThat(render("{% if not 'system' in messages[0].role %}A{% endif %}|{% if not 'a' == 'b' %}B{% endif %}|"
                + "{% if not 1 > 2 %}C{% endif %}|{% if 1 in [1] and not 2 in [1] %}D{% endif %}|"
                + "{{ 'y' if not 1 == 2 else 'n' }}|{% if not not 1 == 1 %}E{% endif %}|{{ [not 1 == 2] | length }}"))
                .isEqualTo("A|B|C|D|y|E|1");
        assertThat(render("{% if none is not none %}F{% endif %}{% if 'a' not in 'bc' %}G{% endif %}"
                + "{% set note = 'not' %}{{ note }}{{ ' not ' }}{% if not (1 == 2) %}H{% endif %}"))
                .isEqualTo("Gnot not H");
    }

    /** Jinjava ignores a loop filter and a loop's else branch: such templates fail instead of rendering wrongly. */
    @Test
    void loopFiltersAndLoopElseAreRejected() {
        assertThatThrownBy(() -> render("{% for m in messages if m.role == 'user' %}{{ m.content }}{% endfor %}"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("loop filter");
        assertThatThrownBy(() -> render("{% for m in [] %}{{ m }}{% else %}none{% endfor %}"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("{% else %}");
        assertThat(render("{% for m in messages %}{% if m.role == 'user' %}u{% else %}a{% endif %}{% endfor %}"
                + "{% for x in ([1] if true else [2]) %}{{ x }}{% endfor %}")).isEqualTo("u1");
    }

    // ------------------------------------------------------------------------------------------ functions

    /** Jinjava records a failing function as an error and renders on; transformers stops with the message. */
    @Test
    void raiseExceptionStopsWithTheTemplatesMessage() {
        assertThatThrownBy(() -> render("{{ raise_exception('System role not supported') }}after"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("System role not supported");
    }

    /** Llama 3.2 and later date their system header with {@code strftime_now}, English month names. */
    @Test
    void strftimeNowFormatsTheCurrentTimeAsPythonDoes() {
        assertThat(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}"))
                .isEqualTo("03 Sep 2024|2024-09-03");
    }

    /** Templates test {@code strftime_now is defined} before calling it (Llama 3.2's template does). */
    @Test
    void strftimeNowIsDefined() {
        assertThat(render("{% if strftime_now is defined %}{{ strftime_now('%d %b %Y') }}{% else %}26 Jul 2024"
                + "{% endif %}")).isEqualTo("03 Sep 2024");
    }

    // ------------------------------------------------------------------------------------------ Python semantics

    /** Java's String has no title/startswith/lstrip, and its split takes a regex and returns an array. */
    @Test
    void stringMethodsAreThoseOfPython() {
        assertThat(render("{{ '  hi  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  hi  '.lstrip() }}|"
                + "{{ '  hi  '.rstrip() }}|")).isEqualTo("hi|hi|hi  |  hi|");
        assertThat(render("{{ 'a.b.c'.split('.') | length }}|{{ 'a.b.c'.split('.')[-1] }}|{{ ' a  b '.split() | join('/') }}|"
                + "{{ 'a,b,c'.split(',', 1)[1] }}")).isEqualTo("3|c|a/b|b,c");
        assertThat(render("{% if 'hello'.startswith('he') %}a{% endif %}{% if 'hello'.endswith(('x', 'lo')) %}b"
                + "{% endif %}{% if 'hello'.startswith('lo') %}c{% endif %}")).isEqualTo("ab");
        assertThat(render("{{ 'user'.title() }}|{{ 'hello world'.title() }}|{{ 'Ab'.upper() }}|{{ 'Ab'.lower() }}|"
                + "{{ 'hELLO'.capitalize() }}|{{ 'a-b-a'.replace('a', 'c') }}"))
                .isEqualTo("User|Hello World|AB|ab|Hello|c-b-c");
    }

    /** Reasoning templates keep the text after the last {@code </think>}. */
    @Test
    void splitResultsIndexFromTheEnd() {
        assertThat(render("{{ messages[1].content.split('</think>')[-1].lstrip() }}",
                List.of(user("q"), assistant("<think>hmm</think>\n\nanswer")))).isEqualTo("answer");
    }

    /** Python's strip removes Unicode whitespace (U+00A0, U+3000) and only whitespace; Jinjava's trim differs. */
    @Test
    void trimRemovesPythonsWhitespace() {
        assertThat(render("[{{ messages[0].content | trim }}]", List.of(user("\u00a0 hello\u3000\n"))))
                .isEqualTo("[hello]");
        assertThat(render("[{{ messages[0].content | trim }}]", List.of(user("\u0001hello")))).isEqualTo("[\u0001hello]");
        assertThat(render("[{{ messages[0].content.strip() }}]", List.of(user("\u00a0hello ")))).isEqualTo("[hello]");
    }

    /** In Python a string is iterable; Llama 3.1 writes a tool result through {@code is iterable ... tojson}. */
    @Test
    void stringsAreIterable() {
        assertThat(render("{% if 'x' is iterable %}a{% endif %}{% if messages is iterable %}b{% endif %}"
                + "{% if 1 is iterable %}c{% endif %}")).isEqualTo("ab");
    }

    @Test
    void dictionariesBehaveAsInPython() {
        assertThat(render("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}")).isEqualTo("ab");
        assertThat(render("{% set key = 'role' %}{{ {key: 'user'}['role'] }}")).isEqualTo("user");
        assertThat(render("{% for x in [1, none, 2] %}[{% if x is none %}none{% else %}{{ x }}{% endif %}]"
                + "{% endfor %}")).isEqualTo("[1][none][2]");
    }

    /** Jinjava's Python-style object printing would escape control characters and quotes: left off. */
    @Test
    void messageContentIsWrittenVerbatim() {
        assertThat(render("[{{ messages[0].content }}]", List.of(user("\u0001\"quoted\" \\ text\n\u00e9"))))
                .isEqualTo("[\u0001\"quoted\" \\ text\n\u00e9]");
    }

    // ------------------------------------------------------------------------------------------ undefined values

    /**
     * As with Jinja2's default {@code Undefined} (what transformers uses), an unknown variable renders empty and a
     * missing key is falsy: Qwen2.5 writes {@code not message.tool_calls} for messages that have none.
     */
    @Test
    void unknownVariablesAndKeysAreEmptyAndFalsy() {
        assertThat(render("[{{ unknown }}]{% if unknown is defined %}defined{% endif %}")).isEqualTo("[]");
        assertThat(render("{% if messages[0].tool_calls %}calls{% else %}none{% endif %}|"
                + "{% if 'tool_calls' in messages[0] %}key{% else %}no key{% endif %}")).isEqualTo("none|no key");
    }

    /** Anything else Jinjava cannot do fails the render instead of leaving a silently wrong prompt. */
    @Test
    void otherJinjavaErrorsFailTheRender() {
        assertThatThrownBy(() -> render("{{ messages[0].content.zfill(8) }}"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot render the chat template")
                .hasMessageContaining("zfill");
        assertThatThrownBy(() -> render("{% if true %}unclosed"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("endif");
    }
}
