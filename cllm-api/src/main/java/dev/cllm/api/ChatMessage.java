package dev.cllm.api;

/**
 * One message of a chat conversation, as a checkpoint's chat template receives it.
 *
 * <p>The usual roles are {@code system}, {@code user}, {@code assistant} and {@code tool}; any other non-blank role
 * is passed to the template as is (a template decides which roles it accepts).
 *
 * @param role    who speaks (non-blank)
 * @param content what is said (may be empty, never null)
 */
public record ChatMessage(String role, String content) {

    public ChatMessage {
        if (role == null || role.isBlank()) {
            throw new IllegalArgumentException("role must be a non-blank string, got "
                    + (role == null ? "null" : "'" + role + "'"));
        }
        if (content == null) {
            throw new IllegalArgumentException("content must not be null (role '" + role + "')");
        }
    }

    /** A {@code system} message. */
    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    /** A {@code user} message. */
    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    /** An {@code assistant} message. */
    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
