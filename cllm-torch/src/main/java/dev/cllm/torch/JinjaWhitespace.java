package dev.cllm.torch;

/**
 * Applies Jinja2's {@code lstrip_blocks} and its comment rules to a template's source, before Jinjava parses it.
 *
 * <p>Jinja2 strips the spaces and tabs in front of a block tag ({@code {% ... %}}) or comment ({@code {# ... #}})
 * only when nothing else precedes the tag on its line; Jinjava's {@code lstripBlocks} strips them mid-line too
 * ({@code "a {% if x %}b"} loses its space). And Jinjava, told to honour the dash of {@code {#- c #}}, strips the
 * whitespace on both sides of the comment. So Jinjava's {@code lstripBlocks} stays off, this class does the
 * stripping, and it removes comments itself: their {@code -} strips all whitespace on its side, and
 * {@code trim_blocks} drops one newline after a comment without one. Everything inside {@code {{ }}},
 * {@code {% %}} (string literals included) and {@code {% raw %}} blocks is left as is.
 */
final class JinjaWhitespace {
    private JinjaWhitespace() {
    }

    static String apply(String template) {
        StringBuilder out = new StringBuilder(template.length());
        int i = 0;
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
                if (isRaw(template.substring(start, i))) {
                    i = copyRaw(template, i, out);
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
        out.append(template, start, end);
        return end;
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
}
