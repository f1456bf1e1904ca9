package dev.cllm.bench;

import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.data.PromptFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Benchmark prompts per model. A model directory may bring its own: a {@value BenchModels#PROMPTS_FILE} file in it
 * (the prompt-file format of {@code ./cllm collect}: JSON lines {@code {"prompt": "text"}}, encoded with the model's
 * tokenizer, or {@code {"prompt_ids": [1, 2]}}; answers are ignored) is used for every benchmark of that model. This
 * is how the text-to-SQL models get SQL task prompts. Otherwise stories260K gets the six prompts of its reference
 * outputs and every other model deterministic pseudo-text.
 */
final class Prompts {
    private Prompts() {
    }

    /** The prompts for {@code model} (its name as {@link BenchModels} knows it), loaded as {@code loaded}. */
    static TokenIds[] forModel(String model, TorchConsistencyModel loaded) {
        Optional<Path> file = promptsFile(model);
        if (file.isPresent()) {
            Tokenizer tokenizer = loaded.tokenizer().orElse(null);
            PromptFile prompts = tokenizer != null ? PromptFile.of(file.get(), tokenizer) : PromptFile.of(file.get());
            List<Prompt> read = prompts.read();
            if (read.isEmpty()) {
                throw new IllegalArgumentException(file.get() + " holds no prompts");
            }
            TokenIds[] out = new TokenIds[read.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = read.get(i).ids();
                loaded.config().checkTokenIds(out[i].toArray(), out[i].size(), file.get() + ", prompt " + i);
            }
            return out;
        }
        return builtIn(model, loaded.config().vocabSize());
    }

    /** Where {@link #forModel} takes the prompts of {@code model} from, in words (without loading it). */
    static String describe(String model) {
        if (promptsFile(model).isPresent()) {
            return BenchModels.PROMPTS_FILE;
        }
        return model.equals(BenchModels.STORIES_260K) ? "stories260K reference prompts" : "pseudo-text";
    }

    /**
     * Whether {@code model} brings its own task prompts ({@value BenchModels#PROMPTS_FILE}): such a model is measured
     * as it is used, stopping at EOS, rather than generating a fixed number of tokens.
     */
    static boolean ownTask(String model) {
        return promptsFile(model).isPresent();
    }

    private static Optional<Path> promptsFile(String model) {
        return BenchModels.directory(model).map(dir -> dir.resolve(BenchModels.PROMPTS_FILE))
                .filter(Files::isRegularFile);
    }

    /** stories260K: the six prompts of its reference outputs (llama2.c); other models: deterministic pseudo-text. */
    static TokenIds[] builtIn(String model, int vocab) {
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
