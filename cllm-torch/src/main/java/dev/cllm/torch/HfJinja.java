package dev.cllm.torch;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.lang.reflect.Method;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Jinjava set up to render chat templates as Hugging Face transformers renders them with Python's Jinja2, where
 * Jinjava's defaults differ in ways real templates notice:
 * <ul>
 *   <li>{@code trim_blocks} and {@code lstrip_blocks} on, as transformers sets them, the latter and comments done
 *       by {@link JinjaSource} as Jinja2 does them (Jinjava's strips indentation in front of mid-line tags too);</li>
 *   <li>{@code not} binds more loosely than comparisons, {@code in} and {@code is} ({@link JinjaSource});</li>
 *   <li>the dash of {@code {{- x -}}} strips whitespace (Jinjava honours it on block tags only unless told
 *       to);</li>
 *   <li>{@code raise_exception(msg)} stops rendering with the template's message (Jinjava records a failing
 *       function as an error and renders on), and {@code strftime_now(fmt)} formats the current time; both count as
 *       defined for {@code is defined};</li>
 *   <li>string methods ({@code .strip()}, {@code .split()}, {@code .startswith()}, {@code .title()}, ...) are
 *       Python's, not {@link String}'s (Java has no {@code title}, and its {@code split} takes a regex and returns an
 *       array);</li>
 *   <li>the {@code trim} filter and {@code .strip()} remove Python's whitespace (U+00A0 and U+3000 included) and only
 *       that (Jinjava's trim removes every char up to U+0020 and keeps both);</li>
 *   <li>{@code is iterable} holds for strings (Llama 3.1 quotes a tool result through that test);</li>
 *   <li>{@code for k in dict} walks the keys, and the keys of a dict literal are expressions.</li>
 * </ul>
 * Undefined variables render empty, as with Jinja2's default {@code Undefined} that transformers uses: Jinjava's
 * {@code failOnUnknownTokens} would also reject {@code {% if message.tool_calls %}} on a message without tool calls
 * (Qwen2.5's template asks that), while letting {@code {% if not message.tool_calls %}} pass. Any other error Jinjava
 * reports fails the render rather than leaving a silently wrong prompt.
 *
 * <p>Not matched, as no template of the families tested needs it: booleans print as {@code true}/{@code false} and
 * None as nothing (Python: {@code True}, {@code None}), and {@code default} replaces None too (a variable bound to
 * None counts as undefined); lists and dicts print in Java's form; {@code ~} binds tighter than {@code +} and
 * {@code **} no tighter than {@code *}; strings cannot be indexed or repeated with {@code *}; {@code tojson} writes
 * JSON without Python's spaces and ignores {@code indent}; the {@code filter} tag and transformers'
 * {@code generation} tag are unknown (an error). Loop filters and a loop's {@code else}, which Jinjava would ignore,
 * fail the render ({@link JinjaSource}).
 *
 * <p>Thread-safe.
 */
final class HfJinja {
    /** Whitespace as Python's {@code str.strip()} sees it ({@code str.isspace()}). */
    private static final String PYTHON_WHITESPACE = "\t\n\u000b\f\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680"
            + "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

    /** The time {@code strftime_now} reads during a render on this thread. */
    private static final ThreadLocal<Clock> CLOCK = new ThreadLocal<>();

    private static final Jinjava JINJAVA = newJinjava();

    private HfJinja() {
    }

    /**
     * Renders a template.
     *
     * @param clock the time {@code strftime_now} formats
     * @throws TemplateRaised         when the template calls {@code raise_exception}
     * @throws IllegalStateException  when Jinjava reports any other error (syntax, unknown method or filter, ...)
     */
    static String render(String template, Map<String, ?> bindings, Clock clock) {
        RenderResult result;
        CLOCK.set(clock);
        try {
            result = JINJAVA.renderForResult(JinjaSource.forJinjava(template), bindings);
        } finally {
            CLOCK.remove();
        }
        for (TemplateError error : result.getErrors()) {
            for (Throwable t = error.getException(); t != null; t = t.getCause()) {
                if (t instanceof TemplateRaised raised) {
                    throw raised;
                }
            }
        }
        if (!result.getErrors().isEmpty()) {
            throw new IllegalStateException(result.getErrors().stream()
                    .map(e -> "line " + e.getLineno() + ": " + e.getMessage())
                    .collect(Collectors.joining("; ")));
        }
        return result.getOutput();
    }

    /** Thrown by the template's {@code raise_exception(message)}: the template rejects its input. */
    static final class TemplateRaised extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        TemplateRaised(String message) {
            super(message);
        }
    }

    private static Jinjava newJinjava() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(false)                               // JinjaSource does it as Jinja2 does
                .withElResolver(resolver)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)   // {{- x -}}
                        .withIterateOverMapKeys(true)                  // {% for k in dict %}: the keys
                        .withEvaluateMapKeys(true)                     // {k: v}: the value of k
                        .build())
                .build());
        var context = jinjava.getGlobalContext();
        context.registerFunction(function("raise_exception", "raiseException"));
        context.registerFunction(function("strftime_now", "strftimeNow"));
        // Jinjava's functions are not variables; templates ask "strftime_now is defined" before calling it
        context.put("raise_exception", "raise_exception");
        context.put("strftime_now", "strftime_now");
        context.registerFilter(new PythonTrim());
        context.registerExpTest(new PythonIterable());
        return jinjava;
    }

    private static ELFunctionDefinition function(String name, String method) {
        try {
            Method m = HfJinja.class.getDeclaredMethod(method, String.class);
            m.setAccessible(true);                          // Jinjava calls it by reflection from its package
            return new ELFunctionDefinition("", name, m);
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    /** {@code raise_exception(message)}, as transformers defines it. */
    static String raiseException(String message) {
        throw new TemplateRaised(message);
    }

    /** {@code strftime_now(format)}: the render's current time in a Python strftime format (English names). */
    static String strftimeNow(String format) {
        Clock clock = CLOCK.get();
        return StrftimeFormatter.format(ZonedDateTime.now(clock == null ? Clock.systemDefaultZone() : clock), format,
                Locale.ENGLISH);
    }

    // ------------------------------------------------------------------------------------------ Python semantics

    static String strip(String s, String chars, boolean left, boolean right) {
        String set = chars == null ? PYTHON_WHITESPACE : chars;
        int from = 0;
        int to = s.length();
        while (left && from < to && set.indexOf(s.charAt(from)) >= 0) {
            from++;
        }
        while (right && to > from && set.indexOf(s.charAt(to - 1)) >= 0) {
            to--;
        }
        return s.substring(from, to);
    }

    /** Python's {@code str.split(sep=None, maxsplit=-1)}. */
    static List<String> split(String s, String sep, int maxSplit) {
        List<String> parts = new ArrayList<>();
        if (sep == null) {                                   // runs of whitespace, no empty parts
            int i = 0;
            while (true) {
                while (i < s.length() && PYTHON_WHITESPACE.indexOf(s.charAt(i)) >= 0) {
                    i++;
                }
                if (i == s.length()) {
                    return parts;
                }
                if (maxSplit >= 0 && parts.size() == maxSplit) {
                    parts.add(strip(s.substring(i), null, false, true));
                    return parts;
                }
                int j = i;
                while (j < s.length() && PYTHON_WHITESPACE.indexOf(s.charAt(j)) < 0) {
                    j++;
                }
                parts.add(s.substring(i, j));
                i = j;
            }
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        for (int at = s.indexOf(sep); at >= 0 && (maxSplit < 0 || parts.size() < maxSplit); at = s.indexOf(sep, from)) {
            parts.add(s.substring(from, at));
            from = at + sep.length();
        }
        parts.add(s.substring(from));
        return parts;
    }

    /** Python's {@code str.title()}: the first letter of each run of letters upper case, the rest lower case. */
    static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
            previousCased = Character.isLetter(c);
        }
        return out.toString();
    }

    /** Resolves Python's {@code str} methods on strings; everything else falls through to Jinjava's resolver. */
    private static final class PythonStringMethods extends ELResolver {
        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
            if (!(base instanceof String s) || !(method instanceof String name)) {
                return null;
            }
            Object[] p = params == null ? new Object[0] : params;
            Object result = call(s, name, p);
            if (result != null) {
                context.setPropertyResolved(true);
            }
            return result;
        }

        private static Object call(String s, String name, Object[] p) {
            String arg0 = p.length > 0 && p[0] != null ? p[0].toString() : null;
            return switch (name) {
                case "strip" -> strip(s, arg0, true, true);
                case "lstrip" -> strip(s, arg0, true, false);
                case "rstrip" -> strip(s, arg0, false, true);
                case "split" -> split(s, arg0, p.length > 1 ? ((Number) p[1]).intValue() : -1);
                case "startswith" -> anyOf(p[0], s::startsWith);
                case "endswith" -> anyOf(p[0], s::endsWith);
                case "upper" -> s.toUpperCase(Locale.ROOT);
                case "lower" -> s.toLowerCase(Locale.ROOT);
                case "title" -> title(s);
                case "capitalize" -> s.isEmpty() ? s
                        : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
                default -> null;                                  // replace, find, ...: Java's method is Python's
            };
        }

        /** {@code startswith}/{@code endswith} take one string or a tuple of them. */
        private static Boolean anyOf(Object arg, java.util.function.Predicate<String> test) {
            if (arg instanceof Collection<?> options) {
                return options.stream().anyMatch(o -> test.test(String.valueOf(o)));
            }
            return test.test(String.valueOf(arg));
        }

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return null;
        }
    }

    /** Jinja2's {@code trim}: Python's {@code str.strip()}. */
    private static final class PythonTrim implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
            return strip(value == null ? "" : value.toString(), args.length > 0 ? args[0] : null, true, true);
        }
    }

    /** Jinja2's {@code iterable} test: strings are iterable too. */
    private static final class PythonIterable implements ExpTest {
        @Override
        public String getName() {
            return "iterable";
        }

        @Override
        public boolean evaluate(Object value, JinjavaInterpreter interpreter, Object... args) {
            return value instanceof CharSequence || value instanceof Iterable<?> || value instanceof Map<?, ?>
                    || (value != null && value.getClass().isArray());
        }
    }
}
