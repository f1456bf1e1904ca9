package dev.cllm.bench;

import dev.cllm.api.TokenIds;

/** Benchmark prompts per model. */
final class Prompts {
    private Prompts() {
    }

    /** stories260K: the six prompts of its reference outputs (llama2.c); other models: deterministic pseudo-text. */
    static TokenIds[] forModel(String model, int vocab) {
        if (model.equals(BenchModels.STORIES_260K)) {
            return new TokenIds[]{
                TokenIds.of(1, 404, 475, 464, 454, 275),
                TokenIds.of(1, 385, 453, 374, 379),
                TokenIds.of(1, 283, 383, 266, 487, 472, 358, 369),
                TokenIds.of(1, 373, 327, 443, 464, 317, 410, 500, 285, 489, 340, 266, 264, 265, 425, 397, 261, 499,
                        484, 356, 434, 314, 507, 367),
                TokenIds.of(1, 315, 454, 371, 499, 385, 400, 318, 347, 318, 432, 315, 453, 376, 502, 333, 496, 264),
                TokenIds.of(1, 495, 423, 284, 306, 420, 444, 479, 334, 289, 449, 344, 488, 443, 508, 441, 387, 498,
                        506)};
        }
        TokenIds[] out = new TokenIds[4];
        for (int i = 0; i < out.length; i++) {
            out[i] = TokenIds.of(BenchModels.tokens(16 + 8 * i, vocab, i));
        }
        return out;
    }
}
