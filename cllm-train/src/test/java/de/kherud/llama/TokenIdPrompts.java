package de.kherud.llama;

import java.util.Arrays;

/**
 * Sets a completion's prompt to token ids. java-llama.cpp 4.2.0 only offers a text prompt, but passes its
 * parameters as JSON to llama.cpp's server code, which also takes {@code "prompt": [id, ...]} and then uses the ids
 * as they are (no BOS is added). The binding keeps that JSON map package-private, hence this class in its package.
 */
public final class TokenIdPrompts {
    private TokenIdPrompts() {
    }

    /** {@code parameters} with its prompt replaced by {@code ids}. */
    public static InferenceParameters withPrompt(InferenceParameters parameters, int[] ids) {
        if (ids.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        parameters.parameters.put("prompt", Arrays.toString(ids));
        return parameters;
    }
}
