package dev.cllm.examples.guide;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StreamingDetokenizer;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Example 02: Jacobi decoding with a streaming listener that prints tokens as they are accepted and cancels the
 * generation after a number of tokens; then the paper's statistics, and the check that the output is exactly greedy
 * autoregressive (AR) decoding's.
 *
 * <pre>
 * ./cllm example 02 [MODEL_DIR [CANCEL_AFTER]]
 * </pre>
 *
 * <p>Jacobi decoding guesses a block of n future tokens and refines all of them in one forward pass per iteration. A
 * pass accepts the verified prefix of the block plus one new prediction, so a listener receives one or several tokens
 * at a time; the printout puts a {@code |} between the chunks of successive passes, so a chunk of several tokens is
 * a pass that "fast-forwarded". An ordinary model such as stories260K accepts about 1.04 tokens per pass (mostly in
 * repetitive stretches); a CLLM, trained on its own Jacobi trajectories (examples 03 and 04), accepts several.
 *
 * <p>{@code MODEL_DIR} defaults to {@code models/stories260K} under {@code cllm.home} (else the working directory);
 * {@code CANCEL_AFTER} (default {@value #DEFAULT_CANCEL_AFTER}) is the number of tokens after which the listener
 * cancels. {@code -} keeps an argument's default.
 */
public final class Example02JacobiStreaming {
    static final int BLOCK_SIZE = 16;
    static final int DEFAULT_CANCEL_AFTER = 48;
    static final int MAX_NEW_TOKENS = 128;
    /** A stories260K reference prompt whose greedy continuation has repetitive stretches that Jacobi skips through. */
    static final TokenIds STORIES_PROMPT = TokenIds.of(1, 373, 327, 443, 464, 317, 410, 500, 285, 489, 340, 266, 264,
            265, 425, 397, 261, 499, 484, 356, 434, 314, 507, 367);
    /** Used instead when the checkpoint has a tokenizer. */
    static final String TEXT_PROMPT = "Once upon a time";

    /** What the example produced: the Jacobi generation, the AR generation it is compared to, the chunk sizes. */
    public record Result(Generation jacobi, Generation ar, List<Integer> chunkSizes) {
    }

    private Example02JacobiStreaming() {
    }

    public static void main(String[] args) {
        if (args.length > 2) {
            throw new IllegalArgumentException("usage: Example02JacobiStreaming [MODEL_DIR [CANCEL_AFTER]]");
        }
        Path modelDir = given(args, 0) ? Path.of(args[0])
                : Path.of(System.getProperty("cllm.home", ".")).resolve("models").resolve("stories260K");
        int cancelAfter = given(args, 1) ? count(args[1], "CANCEL_AFTER") : DEFAULT_CANCEL_AFTER;
        run(modelDir, cancelAfter, System.out);
    }

    private static boolean given(String[] args, int i) {
        return args.length > i && !args[i].equals("-");
    }

    /** Parses a count given on the command line. */
    private static int count(String value, String name) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a whole number, got '" + value + "'");
        }
    }

    /** Prints every accepted chunk, {@code |} between chunks, and cancels once {@code cancelAfter} tokens arrived. */
    static final class ChunkPrinter implements GenerationListener {
        private final PrintStream out;
        private final int cancelAfter;
        private final StreamingDetokenizer text;       // null without a tokenizer: print ids
        private final List<Integer> chunkSizes = new ArrayList<>();
        private int received;

        ChunkPrinter(PrintStream out, int cancelAfter, Tokenizer tokenizer) {
            this.out = out;
            this.cancelAfter = cancelAfter;
            // Byte-level tokens can split one character over several ids: StreamingDetokenizer holds a partial
            // character back until it is complete, so decode chunk by chunk through it, not with decode(chunk).
            this.text = tokenizer == null ? null : new StreamingDetokenizer(tokenizer, out::print);
        }

        @Override
        public boolean onTokens(TokenIds accepted) {
            // Called on the generating thread after every forward pass that accepted tokens (at least one).
            if (received > 0) {
                out.print(" | ");
            }
            if (text != null) {
                text.onTokens(accepted);
            } else {
                out.print(accepted.stream().mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            }
            out.flush();
            chunkSizes.add(accepted.size());
            received += accepted.size();
            return received < cancelAfter;   // false cancels: the generation keeps what was delivered so far
        }
    }

    public static Result run(Path modelDir, int cancelAfter, PrintStream out) {
        if (cancelAfter < 1) {
            throw new IllegalArgumentException("CANCEL_AFTER must be >= 1, got " + cancelAfter);
        }
        try (ConsistencyModel model = TorchConsistencyModel.load(modelDir)) {
            Tokenizer tokenizer = model.tokenizer().orElse(null);
            TokenIds prompt = tokenizer != null ? TokenIds.of(tokenizer.encode(TEXT_PROMPT)) : STORIES_PROMPT;
            out.println("prompt ids: " + prompt);

            // Block size n = 16 (the paper's). The guesses of each new block are sampled from the context with a
            // fixed seed, as the CLLM authors do; they change the speed, never the output. Adding
            // .initializer(BlockInitializer.REPEAT_LAST) guesses the last token repeated instead, which suits
            // repetitive text: on stories260K's prompt here, 48 tokens then take 37 passes instead of 43.
            JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(BLOCK_SIZE).maxNewTokens(MAX_NEW_TOKENS).build();
            out.printf(Locale.ROOT, "%s, streaming (| separates the tokens of successive forward passes), "
                    + "cancel after %d tokens:%n", jacobi.name(), cancelAfter);
            ChunkPrinter printer = new ChunkPrinter(out, cancelAfter, tokenizer);
            Generation g = jacobi.generate(model, prompt, printer);
            if (printer.text != null) {
                printer.text.flush();
            }
            out.println();

            // The statistics of the paper (Kou et al. 2024, section 3 and table 6), see DecodingStats.
            DecodingStats s = g.stats();
            out.printf(Locale.ROOT, "stop: %s after %d tokens in %d forward passes (prefill included): %.3f tokens "
                            + "per pass%n", g.stopReason(), s.newTokens(), s.forwardPasses(), s.tokensPerPass());
            out.printf(Locale.ROOT, "fast-forwarded: %d tokens (accepted in a pass beyond its first token)%n",
                    s.fastForwarded());
            out.printf(Locale.ROOT, "stationary: %d tokens (right while an earlier token of the block was still "
                    + "wrong, and kept)%n", s.stationary());
            List<String> histogram = new ArrayList<>();
            for (int k = 1; k < s.acceptedHistogram().size(); k++) {
                if (s.acceptedHistogram().get(k) > 0) {
                    histogram.add(s.acceptedHistogram().get(k) + " x " + k);
                }
            }
            out.println("passes by tokens accepted: " + String.join(", ", histogram));
            out.printf(Locale.ROOT, "%d blocks, %.2f passes per block on average%n", s.blocks(),
                    s.meanIterationsPerBlock());

            // Lossless: greedy AR decoding (block size 1) of the same prompt gives the same tokens. Compare as many
            // tokens as the cancelled Jacobi run delivered.
            JacobiDecoder ar = JacobiDecoder.autoregressive(Math.max(1, g.ids().size()));
            Generation reference = ar.generate(model, prompt);
            boolean same = reference.ids().equals(g.ids());
            out.printf(Locale.ROOT, "AR: %d tokens in %d forward passes; Jacobi output %s AR output%n",
                    reference.stats().newTokens(), reference.stats().forwardPasses(), same ? "==" : "!=");
            if (!same) {
                // Exact in exact arithmetic. In floating point a block pass and a one-token pass may round the logits
                // differently, so where the two best logits are within rounding error of each other (a near-tie)
                // the decoders may pick different tokens. Anywhere else a difference is a bug.
                out.println("(expected only where the model's two best tokens are tied within rounding error)");
            }
            return new Result(g, reference, List.copyOf(printer.chunkSizes));
        }
    }
}
