package dev.cllm.examples.guide;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.ModelConfig;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Example 01: load a checkpoint and generate greedily, one token per forward pass (autoregressive decoding, AR).
 *
 * <pre>
 * ./cllm example 01 [MODEL_DIR [PROMPT]]
 * </pre>
 *
 * <p>{@code MODEL_DIR} defaults to the embedded {@code models/stories260K} under the repository root (the system
 * property {@code cllm.home}, which {@code ./cllm} sets, else the working directory). {@code PROMPT} is text; it is
 * encoded with the checkpoint's {@code tokenizer.json}. stories260K ships without a tokenizer, so for it the example
 * falls back to a prompt given as token ids and prints ids instead of text. {@code -} keeps an argument's default.
 */
public final class Example01LoadAndGenerate {
    /** Used when the checkpoint has a tokenizer and no prompt is given. */
    static final String DEFAULT_PROMPT = "Once upon a time";
    /** stories260K's prompt as token ids (BOS = 1 first): the first of its reference prompts. */
    static final TokenIds STORIES_PROMPT = TokenIds.of(1, 404, 475, 464, 454, 275);
    static final int MAX_NEW_TOKENS = 64;

    private Example01LoadAndGenerate() {
    }

    public static void main(String[] args) {
        if (args.length > 2) {
            throw new IllegalArgumentException("usage: Example01LoadAndGenerate [MODEL_DIR [PROMPT]]");
        }
        Path modelDir = given(args, 0) ? Path.of(args[0])
                : Path.of(System.getProperty("cllm.home", ".")).resolve("models").resolve("stories260K");
        String prompt = given(args, 1) ? args[1] : DEFAULT_PROMPT;
        run(modelDir, prompt, System.out);
    }

    /** Whether argument {@code i} is given ({@code -} keeps the default). */
    private static boolean given(String[] args, int i) {
        return args.length > i && !args[i].equals("-");
    }

    /** Loads {@code modelDir}, generates {@value #MAX_NEW_TOKENS} tokens greedily, prints them, returns the result. */
    public static Generation run(Path modelDir, String prompt, PrintStream out) {
        // 1. A model owns native memory (libtorch tensors): always close it, here with try-with-resources. The
        //    default options pick the device (CUDA when the CUDA build of libtorch sees a GPU, else CPU) and the
        //    compute dtype (bf16 on CUDA, fp32 on CPU); new TorchOptions("cpu", ComputeDtype.F32) pins both.
        try (ConsistencyModel model = TorchConsistencyModel.load(modelDir, TorchOptions.defaults())) {
            ModelConfig config = model.config();
            out.printf(Locale.ROOT, "model: %s, %,d parameters, vocabulary %d, context %d, tokenizer: %s%n",
                    config.architecture(), config.parameterCount(), config.vocabSize(), config.contextLength(),
                    model.tokenizer().isPresent() ? "yes" : "no");

            // 2. A decoder is an immutable strategy. Block size 1 is plain autoregressive decoding: one token per
            //    forward pass. It stops at the model's EOS or after MAX_NEW_TOKENS.
            JacobiDecoder ar = JacobiDecoder.autoregressive(MAX_NEW_TOKENS);

            // 3. Text in, text out when the checkpoint has a tokenizer (it adds BOS itself); token ids otherwise.
            Generation g;
            if (model.tokenizer().isPresent()) {
                out.println("prompt: " + prompt);
                g = ar.generate(model, prompt);
            } else {
                out.println("prompt ids (this model has no tokenizer): " + STORIES_PROMPT);
                g = ar.generate(model, STORIES_PROMPT);
            }

            // 4. The result: the new ids (without the prompt), their text (null without a tokenizer), why it
            //    stopped, and what it cost.
            if (g.text() != null) {
                out.println("text: " + g.text());
            }
            out.println("ids: " + g.ids());
            DecodingStats s = g.stats();
            out.printf(Locale.ROOT, "%s: %d tokens in %d forward passes (prefill included), %.2f tokens/pass, "
                            + "%.1f ms (prefill %.1f ms), %.0f tokens/s, stop: %s%n",
                    ar.name(), s.newTokens(), s.forwardPasses(), s.tokensPerPass(), s.elapsedNanos() / 1e6,
                    s.prefillNanos() / 1e6, s.tokensPerSecond(), g.stopReason());
            return g;
        }
    }
}
