package dev.cllm.torch;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * Rewrites a Jinja2 template's source so that Jinjava reads it as Jinja2 would, where their grammars differ.
 *
 * <p>Whitespace: Jinja2 strips the spaces and tabs in front of a block tag ({@code {% ... %}}) or comment
 * ({@code {# ... #}}) only when nothing else precedes the tag on its line ({@code lstrip_blocks}); Jinjava's
 * {@code lstripBlocks} strips them mid-line too ({@code "a {% if x %}b"} loses its space). And Jinjava, told to honour
 * the dash of {@code {#- c #}}, strips the whitespace on both sides of the comment. So Jinjava's {@code lstripBlocks}
 * stays off, this class does the stripping, and it removes comments itself: their {@code -} strips all whitespace on
 * its side, and {@code trim_blocks} drops one newline after a comment without one. As Jinja2 does by default, a single
 * newline at the end of the template is dropped.
 *
 * <p>{@code not}: in Jinja2 it binds more loosely than comparisons, {@code in} and {@code is}
 * ({@code not 'system' in role} is {@code not ('system' in role)}); Jinjava's expression language binds it to the
 * next operand alone. Each {@code not} operand is therefore put in parentheses, up to the next {@code and},
 * {@code or}, {@code if}, {@code else}, comma or closing bracket.
 *
 * <p>Loop filters ({@code {% for x in xs if c %}}) and a loop's {@code {% else %}}, which Jinjava parses and then
 * ignores, are rejected with an {@link IllegalStateException}.
 *
 * <p>Text inside string literals and {@code {% raw %}} blocks is left as is.
 */
final class JinjaSource {
    private JinjaSource() {
    }

    static String forJinjava(String jinja2Template) {
        String template = jinja2Template.endsWith("\r\n") ? jinja2Template.substring(0, jinja2Template.length() - 2)
                : jinja2Template.endsWith("\n") ? jinja2Template.substring(0, jinja2Template.length() - 1)
                : jinja2Template;
        StringBuilder out = new StringBuilder(template.length());
        int i = 0;
        Deque<String> blocks = new ArrayDeque<>();   // the open block tags, innermost first
        int text = 0;                    // where in out the text since the last tag begins
        boolean textStartsLine = true;   // whether that text begins a line of the template
        while (i < template.length()) {
            if (template.startsWith("{{", i)) {
                i = copyTag(template, i, "}}", out);
                text = out.length();
                textStartsLine = false;
            } else if (template.startsWith("{%", i)) {
                char modifier = charAt(template, i + 2);
                if (modifier != '-' && modifier != '+') {
                    stripLineIndent(out, text, textStartsLine);
                }
                int start = i;
                i = copyTag(template, i, "%}", out);
                String tag = template.substring(start, i);
                if (isRaw(tag)) {
                    i = copyRaw(template, i, out);
                } else {
                    checkSupported(tag, blocks);
                }
                text = out.length();
                textStartsLine = false;      // the newline after the tag stays in the text (trim_blocks is Jinjava's)
            } else if (template.startsWith("{#", i)) {
                int end = template.indexOf("#}", i + 2);
                if (end < 0) {                               // unterminated: let Jinjava report it
                    out.append(template, i, template.length());
                    break;
                }
                char modifier = charAt(template, i + 2);
                if (modifier == '-') {
                    stripTrailingWhitespace(out);
                } else if (modifier != '+') {
                    stripLineIndent(out, text, textStartsLine);
                }
                boolean dashAfter = end > i + 2 && template.charAt(end - 1) == '-';
                i = end + 2;
                if (dashAfter) {
                    while (i < template.length() && Character.isWhitespace(template.charAt(i))) {
                        i++;
                    }
                } else if (template.startsWith("\r\n", i)) {  // trim_blocks
                    i += 2;
                } else if (charAt(template, i) == '\n') {
                    i++;
                }
                text = out.length();
                textStartsLine = template.charAt(i - 1) == '\n';
            } else {
                out.append(template.charAt(i++));
            }
        }
        return out.toString();
    }

    private static char charAt(String s, int i) {
        return i < s.length() ? s.charAt(i) : '\0';
    }

    /** Copies a tag from {@code start} through its closing delimiter, skipping over string literals. */
    private static int copyTag(String template, int start, String close, StringBuilder out) {
        int i = start + 2;
        char quote = 0;
        while (i < template.length()) {
            char c = template.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (template.startsWith(close, i)) {
                i += close.length();
                break;
            }
            i++;
        }
        int end = Math.min(i, template.length());
        int from = start + 2;                                  // the expression, without {{- and -}}
        if (from < end && (template.charAt(from) == '-' || template.charAt(from) == '+')) {
            from++;
        }
        int to = template.startsWith(close, end - close.length()) ? end - close.length() : end;
        if (to > from && (template.charAt(to - 1) == '-' || template.charAt(to - 1) == '+')) {
            to--;
        }
        out.append(template, start, from)
                .append(to > from ? NotPrecedence.rewrite(template.substring(from, to)) : "")
                .append(template, Math.max(from, to), end);
        return end;
    }

    /** Block tags that take an end tag (a {@code set} only in its block form, without {@code =}). */
    private static final Set<String> BLOCK_TAGS = Set.of("for", "if", "macro", "call", "filter", "with", "block",
            "autoescape", "set");

    /**
     * Rejects what Jinjava would render differently without saying so: a loop filter
     * ({@code {% for x in xs if c %}}) and a loop's {@code {% else %}}, both of which it ignores.
     */
    private static void checkSupported(String tag, Deque<String> blocks) {
        List<String> words = NotPrecedence.tokens(tag.substring(2, tag.length() - 2)).stream()
                .map(span -> tag.substring(2 + span[0], 2 + span[1]))
                .filter(w -> !w.equals("-") && !w.equals("+"))
                .toList();
        if (words.isEmpty()) {
            return;
        }
        String name = words.get(0);
        if (name.startsWith("end")) {
            blocks.poll();
        } else if (name.equals("else") && "for".equals(blocks.peek())) {
            throw new IllegalStateException("a for loop's {% else %} is not supported by the Jinja engine used here");
        } else if (BLOCK_TAGS.contains(name) && !(name.equals("set") && words.contains("="))) {
            blocks.push(name);
            if (name.equals("for")) {
                int depth = 0;
                boolean afterIn = false;
                for (String w : words) {
                    depth += "([{".contains(w) ? 1 : ")]}".contains(w) ? -1 : 0;
                    afterIn |= depth == 0 && w.equals("in");
                    if (afterIn && depth == 0 && w.equals("if")) {
                        throw new IllegalStateException("a loop filter ({% for x in xs if condition %}) is not"
                                + " supported by the Jinja engine used here: " + tag);
                    }
                }
            }
        }
    }

    private static boolean isRaw(String tag) {
        String body = tag.substring(2, tag.length() - 2).replace("-", "").replace("+", "").strip();
        return body.equals("raw");
    }

    /** Copies the body of a raw block and its {@code endraw} tag unchanged. */
    private static int copyRaw(String template, int from, StringBuilder out) {
        int i = from;
        while (i < template.length()) {
            int open = template.indexOf("{%", i);
            if (open < 0) {
                break;
            }
            int close = template.indexOf("%}", open + 2);
            if (close < 0) {
                break;
            }
            String tag = template.substring(open, close + 2);
            if (tag.substring(2, tag.length() - 2).replace("-", "").replace("+", "").strip().equals("endraw")) {
                out.append(template, from, close + 2);
                return close + 2;
            }
            i = close + 2;
        }
        out.append(template, from, template.length());
        return template.length();
    }

    /**
     * Drops the spaces and tabs at the end of {@code out} when only they stand between the start of the line and the
     * tag being written: after a newline of the text since the last tag, or at that text's start when it starts a line.
     */
    private static void stripLineIndent(StringBuilder out, int text, boolean textStartsLine) {
        int i = out.length();
        while (i > text && (out.charAt(i - 1) == ' ' || out.charAt(i - 1) == '\t')) {
            i--;
        }
        if (i > text ? out.charAt(i - 1) == '\n' : textStartsLine) {
            out.setLength(i);
        }
    }

    private static void stripTrailingWhitespace(StringBuilder out) {
        int i = out.length();
        while (i > 0 && Character.isWhitespace(out.charAt(i - 1))) {
            i--;
        }
        out.setLength(i);
    }

    /** Parenthesizes the operand of each {@code not} in an expression, as Jinja2's grammar groups it. */
    static final class NotPrecedence {
        private static final Set<String> ENDS = Set.of("and", "or", "if", "else", ",", ")", "]",
                "}");

        private NotPrecedence() {
        }

        static String rewrite(String expression) {
            if (!expression.contains("not")) {
                return expression;
            }
            List<int[]> tokens = tokens(expression);          // {start, end}
            TreeMap<Integer, StringBuilder> inserts = new TreeMap<>();
            for (int t = 0; t < tokens.size(); t++) {
                if (!text(expression, tokens, t).equals("not")
                        || (t > 0 && text(expression, tokens, t - 1).equals("is"))        // "is not none"
                        || (t + 1 < tokens.size() && text(expression, tokens, t + 1).equals("in"))) { // "not in"
                    continue;
                }
                int depth = 0;
                int last = -1;
                for (int u = t + 1; u < tokens.size(); u++) {
                    String token = text(expression, tokens, u);
                    if (depth == 0 && ENDS.contains(token)) {
                        break;
                    }
                    if (token.equals("(") || token.equals("[") || token.equals("{")) {
                        depth++;
                    } else if (token.equals(")") || token.equals("]") || token.equals("}")) {
                        depth--;
                    }
                    last = u;
                }
                if (last > t) {
                    inserts.computeIfAbsent(tokens.get(t + 1)[0], k -> new StringBuilder()).append('(');
                    inserts.computeIfAbsent(tokens.get(last)[1], k -> new StringBuilder()).insert(0, ')');
                }
            }
            StringBuilder out = new StringBuilder(expression);
            for (var insert : inserts.descendingMap().entrySet()) {
                out.insert(insert.getKey(), insert.getValue());
            }
            return out.toString();
        }

        private static String text(String expression, List<int[]> tokens, int t) {
            return expression.substring(tokens.get(t)[0], tokens.get(t)[1]);
        }

        /** Words, numbers, string literals and single punctuation characters, with their spans. */
        static List<int[]> tokens(String s) {
            List<int[]> out = new ArrayList<>();
            int i = 0;
            while (i < s.length()) {
                char c = s.charAt(i);
                int start = i;
                if (Character.isWhitespace(c)) {
                    i++;
                    continue;
                }
                if (Character.isLetterOrDigit(c) || c == '_') {
                    while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                        i++;
                    }
                } else if (c == '\'' || c == '"') {
                    i++;
                    while (i < s.length() && s.charAt(i) != c) {
                        i += s.charAt(i) == '\\' ? 2 : 1;
                    }
                    i = Math.min(i + 1, s.length());
                } else {
                    i++;
                }
                out.add(new int[]{start, i});
            }
            return out;
        }
    }
}
