package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.ChatMessage;
import dev.cllm.api.ChatTemplate;
import dev.cllm.api.CheckpointException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A checkpoint's Jinja chat template ({@code tokenizer_config.json}'s {@code chat_template}, or a
 * {@code chat_template.jinja} beside it), rendered as Hugging Face transformers' {@code apply_chat_template} renders
 * it.
 *
 * <p>The template sees {@code messages} (maps with {@code role} and {@code content}), {@code add_generation_prompt},
 * the special tokens of {@code tokenizer_config.json} ({@code bos_token}, {@code eos_token}, ...), and the functions
 * {@code raise_exception} and {@code strftime_now}. Variables it does not get render empty, as in transformers.
 *
 * <p>The end-of-turn tokens are found, not tabulated: a conversation ending in an assistant message is rendered and
 * the special tokens the template writes right after the assistant's words are taken, with the EOS token.
 *
 * <p>Immutable and thread-safe.
 */
public final class JinjaChatTemplate implements ChatTemplate {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The special tokens transformers passes to a chat template, by their variable names. */
    private static final List<String> SPECIAL_TOKEN_NAMES = List.of("bos_token", "eos_token", "unk_token", "sep_token",
            "pad_token", "cls_token", "mask_token");
    /** Stand-in words for the end-of-turn probe: no template changes them, no tokenizer has them as one token. */
    private static final String PROBE_USER = "cllm end of turn probe question";
    private static final String PROBE_ASSISTANT = "cllm-end-of-turn-probe-answer";

    private final String source;
    private final String template;
    private final Map<String, Object> specialTokens;
    private final Clock clock;
    private final Set<String> endOfTurnTokens;

    private JinjaChatTemplate(String source, String template, Map<String, Object> specialTokens,
                              Set<String> addedTokens, Clock clock) {
        this.source = source;
        this.template = template;
        this.specialTokens = Collections.unmodifiableMap(new LinkedHashMap<>(specialTokens));
        this.clock = clock;
        this.endOfTurnTokens = Collections.unmodifiableSet(findEndOfTurnTokens(addedTokens));
    }

    /**
     * Reads the chat template of a checkpoint directory: {@code tokenizer_config.json}'s {@code chat_template} (a
     * string, or a list of named templates of which {@code default} is taken), else a {@code chat_template.jinja}.
     *
     * @return empty when the directory has neither
     * @throws CheckpointException naming the file when it cannot be read or parsed, or lists named templates without
     *                             a {@code default}
     */
    public static Optional<JinjaChatTemplate> read(Path checkpointDir) {
        return read(checkpointDir, Set.of());
    }

    /**
     * As {@link #read(Path)}, also knowing the tokenizer's added tokens ({@code tokenizer.json}'s
     * {@code added_tokens}) as special tokens an end of turn may hold.
     */
    static Optional<JinjaChatTemplate> read(Path checkpointDir, Set<String> addedTokens) {
        Path configFile = checkpointDir.resolve("tokenizer_config.json");
        JsonNode config = JSON.createObjectNode();
        if (Files.isRegularFile(configFile)) {
            try {
                config = JSON.readTree(configFile.toFile());
            } catch (IOException e) {
                throw new CheckpointException(configFile + ": invalid JSON: " + e.getMessage(), e);
            }
            if (config == null || !config.isObject()) {
                throw new CheckpointException(configFile + ": expected a JSON object");
            }
        }
        String source = configFile.toString();
        String template = templateText(configFile, config.get("chat_template"));
        Path jinjaFile = checkpointDir.resolve("chat_template.jinja");
        if (template == null && Files.isRegularFile(jinjaFile)) {
            try {
                template = Files.readString(jinjaFile, StandardCharsets.UTF_8);
                source = jinjaFile.toString();
            } catch (IOException e) {
                throw new CheckpointException(jinjaFile + ": cannot read: " + e.getMessage(), e);
            }
        }
        if (template == null) {
            return Optional.empty();
        }
        Map<String, Object> tokens = new LinkedHashMap<>();
        Set<String> added = new LinkedHashSet<>(addedTokens);
        for (String name : SPECIAL_TOKEN_NAMES) {
            String token = tokenContent(config.get(name));
            if (token != null) {
                tokens.put(name, token);
            }
        }
        List<String> additional = new ArrayList<>();
        config.path("additional_special_tokens").forEach(t -> additional.add(tokenContent(t)));
        additional.removeIf(Objects::isNull);
        if (!additional.isEmpty()) {
            tokens.put("additional_special_tokens", List.copyOf(additional));
            added.addAll(additional);
        }
        config.path("added_tokens_decoder").forEach(t -> added.add(tokenContent(t)));
        added.remove(null);
        return Optional.of(new JinjaChatTemplate(source, template, tokens, added, Clock.systemDefaultZone()));
    }

    /**
     * A template from its text (for tests).
     *
     * @param specialTokens template variables such as {@code bos_token} to their token strings
     * @param addedTokens   further special token strings an end of turn may hold
     * @param clock         the time {@code strftime_now} formats
     */
    static JinjaChatTemplate of(String template, Map<String, String> specialTokens, Set<String> addedTokens,
                                Clock clock) {
        return new JinjaChatTemplate("chat template", template, new LinkedHashMap<>(specialTokens), addedTokens,
                clock);
    }

    private static String templateText(Path file, JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray()) {                               // [{"name": "default", "template": "..."}, ...]
            List<String> names = new ArrayList<>();
            for (JsonNode named : node) {
                names.add(named.path("name").asText());
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return named.path("template").asText();
                }
            }
            throw new CheckpointException(file + ": chat_template lists templates " + names
                    + " but none named 'default'");
        }
        throw new CheckpointException(file + ": chat_template must be a string or a list of {name, template}, got "
                + node.getNodeType());
    }

    /** A special token given as a string or as an AddedToken object {@code {"content": ...}}. */
    private static String tokenContent(JsonNode token) {
        if (token == null || token.isNull()) {
            return null;
        }
        if (token.isObject()) {
            JsonNode content = token.get("content");
            return content == null || !content.isTextual() ? null : content.asText();
        }
        return token.isTextual() ? token.asText() : null;
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> list = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> message = new LinkedHashMap<>();
            message.put("role", m.role());
            message.put("content", m.content());
            list.add(Collections.unmodifiableMap(message));
        }
        Map<String, Object> bindings = new HashMap<>(specialTokens);
        bindings.put("messages", Collections.unmodifiableList(list));
        bindings.put("add_generation_prompt", addGenerationPrompt);
        try {
            return HfJinja.render(template, bindings, clock);
        } catch (HfJinja.TemplateRaised e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw new IllegalStateException(source + ": cannot render the chat template: " + e.getMessage(), e);
        }
    }

    @Override
    public Set<String> endOfTurnTokens() {
        return endOfTurnTokens;
    }

    /** The special tokens the template writes after an assistant's last words, and the EOS token. */
    private Set<String> findEndOfTurnTokens(Set<String> addedTokens) {
        Set<String> found = new LinkedHashSet<>();
        Set<String> special = new LinkedHashSet<>(addedTokens);
        specialTokens.values().forEach(v -> {
            if (v instanceof String s) {
                special.add(s);
            }
        });
        special.remove("");
        String rendered;
        try {
            rendered = render(List.of(ChatMessage.user(PROBE_USER), ChatMessage.assistant(PROBE_ASSISTANT)), false);
        } catch (IllegalArgumentException | IllegalStateException e) {
            rendered = "";              // a template that cannot end on an assistant turn: the EOS token alone
        }
        int at = rendered.lastIndexOf(PROBE_ASSISTANT);
        if (at >= 0) {
            String turnEnd = rendered.substring(at + PROBE_ASSISTANT.length());
            List<String> longestFirst = new ArrayList<>(special);
            longestFirst.sort(Comparator.comparingInt(String::length).reversed());
            for (int i = 0; i < turnEnd.length(); ) {
                String match = null;
                for (String token : longestFirst) {
                    if (turnEnd.startsWith(token, i)) {
                        match = token;
                        break;
                    }
                }
                if (match == null) {
                    i++;
                } else {
                    found.add(match);
                    i += match.length();
                }
            }
        }
        Object eos = specialTokens.get("eos_token");
        if (eos instanceof String s && !s.isEmpty()) {
            found.add(s);
        }
        return found;
    }

    @Override
    public String toString() {
        return "JinjaChatTemplate[" + source + ", endOfTurnTokens=" + endOfTurnTokens + "]";
    }
}
