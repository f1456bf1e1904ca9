package dev.cllm.jacobi;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.TokenIds;

/** The checks every decoder makes before a generation, and the rewound session they leave. */
record Start(int[] promptIds) {

    /**
     * Checks the prompt against the session and rewinds the session to position 0.
     *
     * @throws IllegalArgumentException if the prompt is empty, leaves no room for a new token, or holds an id outside
     *                                  the vocabulary
     */
    static Start check(DecodingSession session, TokenIds prompt) {
        int promptLength = prompt.size();
        if (promptLength == 0) {
            throw new IllegalArgumentException("prompt is empty");
        }
        if (promptLength >= session.capacity()) {
            throw new IllegalArgumentException("prompt of " + promptLength + " tokens leaves no room for a new token "
                    + "in a context of " + session.capacity() + " positions");
        }
        int[] promptIds = prompt.toArray();
        session.model().config().checkTokenIds(promptIds, promptLength, "prompt");
        session.rewind(0);
        return new Start(promptIds);
    }
}
