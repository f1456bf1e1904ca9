package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StreamingDetokenizer;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.jacobi.BlockInitializer;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code ./cllm generate}: one greedy generation, autoregressive or Jacobi. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a greedy continuation with autoregressive (ar) or Jacobi decoding.")
final class GenerateCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

    static final class Prompt {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "prompt text (needs a tokenizer.json)")
        String text;

        @Option(names = "--prompt-ids", paramLabel = "IDS", description = "prompt token ids, e.g. 1,404,475")
        String ids;
    }

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "128",
            description = "most tokens to generate (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--decoder", paramLabel = "ar|jacobi", defaultValue = "ar",
            description = "ar (one token per pass) or jacobi (default: ${DEFAULT-VALUE})")
    String decoder;

    @Option(names = "--block-size", paramLabel = "N", defaultValue = "16",
            description = "Jacobi block size n (default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--init", paramLabel = "context|repeat", defaultValue = "context",
            description = "Jacobi guesses: sampled from the context (the authors' choice) or the last token repeated")
    String init;

    @Option(names = "--seed", defaultValue = "0", description = "seed of the Jacobi guesses (speed only, never output)")
    long seed;

    @Option(names = "--no-stop", description = "ignore EOS: generate exactly --max-new-tokens (context permitting)")
    boolean noStop;

    @Option(names = "--stream", description = "print the text (or, without a tokenizer, the ids) as tokens are "
            + "accepted, instead of at the end")
    boolean stream;

    @Option(names = "--json", description = "print one JSON object on stdout")
    boolean json;

    @Override
    public Integer call() {
        JacobiDecoder jacobi = decoder();
        try (TorchConsistencyModel model = modelOptions.load()) {
            TokenIds promptIds = promptIds(model);
            int context = model.config().contextLength();
            if ((long) promptIds.size() + maxNewTokens > context) {
                throw new IllegalArgumentException("prompt (" + promptIds.size() + " tokens) + --max-new-tokens ("
                        + maxNewTokens + ") exceeds the model's context of " + context + " positions");
            }
            PrintStream out = System.out;
            GenerationListener listener = GenerationListener.NONE;
            StreamingDetokenizer detokenizer = null;
            if (stream && !json) {
                Tokenizer tokenizer = model.tokenizer().orElse(null);
                if (tokenizer != null) {
                    detokenizer = new StreamingDetokenizer(tokenizer, text -> {
                        out.print(text);
                        out.flush();
                    });
                    listener = detokenizer;
                } else {
                    listener = accepted -> {
                        out.print(accepted.stream().mapToObj(Integer::toString)
                                .reduce((a, b) -> a + " " + b).orElse("") + " ");
                        out.flush();
                        return true;
                    };
                }
            }
            Generation g = jacobi.generate(model, promptIds, listener);
            if (detokenizer != null) {
                detokenizer.flush();
            }
            if (stream && !json) {
                out.println();
            }
            if (json) {
                out.println(JSON.writeValueAsString(toJson(g, jacobi)));
            } else {
                // what was streamed (the text, or the ids of a model without a tokenizer) is not printed again
                printHuman(out, g, jacobi, stream && detokenizer != null, stream && detokenizer == null);
            }
            return 0;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private JacobiDecoder decoder() {
        int n = switch (decoder) {
            case "ar" -> 1;
            case "jacobi" -> blockSize;
            default -> throw new IllegalArgumentException("--decoder must be ar or jacobi, got '" + decoder + "'");
        };
        BlockInitializer initializer = BlockInitializer.named(init);
        JacobiDecoder.Builder b = JacobiDecoder.builder().blockSize(n).maxNewTokens(maxNewTokens)
                .initializer(initializer).seed(seed);
        if (noStop) {
            b.noStop();
        }
        return b.build();
    }

    private TokenIds promptIds(TorchConsistencyModel model) {
        if (prompt.ids != null) {
            TokenIds ids = TokenIds.parse(prompt.ids);
            if (ids.isEmpty()) {
                throw new IllegalArgumentException("--prompt-ids is empty");
            }
            model.config().checkTokenIds(ids.toArray(), ids.size(), "--prompt-ids");
            return ids;
        }
        Tokenizer tokenizer = model.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                modelOptions.modelDir() + " has no tokenizer.json: use --prompt-ids"));
        return TokenIds.of(tokenizer.encode(prompt.text));
    }

    private ObjectNode toJson(Generation g, JacobiDecoder jacobi) {
        DecodingStats s = g.stats();
        ObjectNode o = JSON.createObjectNode();
        g.prompt().stream().forEach(o.putArray("prompt_ids")::add);
        g.ids().stream().forEach(o.putArray("ids")::add);
        o.put("text", g.text());
        o.put("new_tokens", s.newTokens());
        o.put("forward_passes", s.forwardPasses());
        o.put("elapsed_ms", s.elapsedNanos() / 1e6);
        o.put("stop_reason", g.stopReason().name().toLowerCase(Locale.ROOT));
        if (decoder.equals("jacobi")) {
            o.put("tokens_per_pass", s.tokensPerPass());
            o.put("fast_forwarded", s.fastForwarded());
            o.put("stationary", s.stationary());
            o.put("block_size", jacobi.blockSize());
        }
        return o;
    }

    private static void printHuman(PrintStream out, Generation g, JacobiDecoder jacobi, boolean textStreamed,
                                   boolean idsStreamed) {
        DecodingStats s = g.stats();
        if (g.text() != null && !textStreamed) {
            out.println(g.text());
        }
        if (!idsStreamed) {
            out.println("ids: " + g.ids());
        }
        out.printf(Locale.ROOT, "%s: %d tokens in %d forward passes (%.2f tokens/pass, %d fast-forwarded, "
                        + "%d stationary), %.1f ms (%.1f tokens/s), stop: %s%n",
                jacobi.name(), s.newTokens(), s.forwardPasses(), s.tokensPerPass(), s.fastForwarded(),
                s.stationary(), s.elapsedNanos() / 1e6, s.tokensPerSecond(),
                g.stopReason().name().toLowerCase(Locale.ROOT));
    }
}
