package dev.cllm.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.ChatMessage;
import dev.cllm.api.Decoder;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.jacobi.BlockInitializer;
import dev.cllm.jacobi.CandidateSource;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.LookaheadDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code ./cllm generate}: one generation, greedy or sampled, with autoregressive, Jacobi or candidate decoding. The
 * settings start from the checkpoint's {@code generation_config.json}; every option given overrides its field.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate a continuation of a prompt, or the reply to a chat, with autoregressive (ar), Jacobi "
                + "or lookahead decoding (Jacobi plus n-gram candidates). All three give the same tokens: greedy by "
                + "default, or sampled (--temperature, --top-k, --top-p, --min-p) with the same tokens for the same "
                + "--seed.",
                "The settings start from the checkpoint's generation_config.json (Hugging Face's names); each option "
                        + "given overrides one field."})
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

        @Option(names = "--chat", paramLabel = "FILE.json",
                description = "a chat: a JSON list of {\"role\", \"content\"} messages, rendered with the "
                        + "checkpoint's chat template; the reply stops at its end-of-turn tokens")
        Path chat;

        @Option(names = "--user", paramLabel = "TEXT",
                description = "a one-message chat from the user (with --system, a system message first)")
        String user;
    }

    @Option(names = "--system", paramLabel = "TEXT", description = "a system message before --user")
    String system;

    @Option(names = "--decoder", paramLabel = "ar|jacobi|lookahead", defaultValue = "ar",
            description = "ar (one token per pass), jacobi, or lookahead (the Jacobi window plus n-gram candidates, "
                    + "sized by a cost model measured on this machine) (default: ${DEFAULT-VALUE})")
    String decoder;

    @Option(names = "--block-size", paramLabel = "N", defaultValue = "16",
            description = "Jacobi block size n, or the lookahead window (default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--sources", paramLabel = "LIST", split = ",",
            description = "lookahead's candidate sources: jacobi, pool, prompt, recycled (default: all four)")
    List<String> sources;

    @Option(names = "--init", paramLabel = "context|repeat", defaultValue = "context",
            description = "Jacobi guesses: sampled from the context (the authors' choice) or the last token repeated")
    String init;

    @Option(names = "--guess-seed", defaultValue = "0",
            description = "seed of the Jacobi guesses (speed only, never output) (default: ${DEFAULT-VALUE})")
    long guessSeed;

    @Option(names = "--max-new-tokens", paramLabel = "N",
            description = "max_new_tokens (default: generation_config.json's, else 128)")
    Integer maxNewTokens;

    @Option(names = "--min-new-tokens", paramLabel = "N", description = "min_new_tokens: no stop token before N")
    Integer minNewTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "temperature; sets do_sample")
    Double temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "top_k (0 = off); sets do_sample")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "top_p; sets do_sample")
    Double topP;

    @Option(names = "--min-p", paramLabel = "P", description = "min_p; sets do_sample")
    Double minP;

    @Option(names = "--repetition-penalty", paramLabel = "R", description = "repetition_penalty (greedy or sampled)")
    Double repetitionPenalty;

    @Option(names = "--presence-penalty", paramLabel = "A", description = "presence penalty (OpenAI's)")
    Double presencePenalty;

    @Option(names = "--frequency-penalty", paramLabel = "F", description = "frequency penalty (OpenAI's)")
    Double frequencyPenalty;

    @Option(names = "--seed", paramLabel = "S", description = "the sampling seed (default: a fresh one, reported)")
    Long seed;

    @Option(names = "--greedy", description = "do_sample = false, whatever generation_config.json says")
    boolean greedy;

    @Option(names = "--stop", paramLabel = "TEXT", description = "a stop string (repeatable): the output ends before "
            + "it")
    List<String> stops;

    @Option(names = "--no-stop", description = "ignore EOS, stop ids and stop strings: generate exactly "
            + "--max-new-tokens (context permitting)")
    boolean noStop;

    @Option(names = "--stream", description = "print the text (or, without a tokenizer, the ids) as tokens are "
            + "accepted, instead of at the end")
    boolean stream;

    @Option(names = "--json", description = "print one JSON object on stdout")
    boolean json;

    @Override
    public Integer call() {
        Decoder d = decoder();
        try (TorchConsistencyModel model = modelOptions.load()) {
            GenerationConfig config = config(model);
            List<ChatMessage> chat = chat();
            TokenIds promptIds = chat == null ? promptIds(model) : null;
            int context = model.config().contextLength();
            if (promptIds != null && (long) promptIds.size() + config.maxNewTokens() > context) {
                throw new IllegalArgumentException("prompt (" + promptIds.size() + " tokens) + --max-new-tokens ("
                        + config.maxNewTokens() + ") exceeds the model's context of " + context + " positions");
            }
            PrintStream out = System.out;
            GenerationListener listener = GenerationListener.NONE;
            boolean textStream = stream && !json && model.tokenizer().isPresent();
            boolean idStream = stream && !json && !textStream;
            if (textStream) {
                listener = GenerationListener.text(piece -> {
                    out.print(piece);
                    out.flush();
                });
            } else if (idStream) {
                listener = accepted -> {
                    out.print(accepted.stream().mapToObj(Integer::toString)
                            .reduce((a, b) -> a + " " + b).orElse("") + " ");
                    out.flush();
                    return true;
                };
            }
            Generation g = chat != null ? d.generate(model, chat, config, listener)
                    : d.generate(model, promptIds, config, listener);
            if (stream && !json) {
                out.println();
            }
            if (json) {
                out.println(JSON.writeValueAsString(toJson(g, d)));
            } else {
                // what was streamed (the text, or the ids of a model without a tokenizer) is not printed again
                printHuman(out, g, d, textStream, idStream);
            }
            return 0;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** generation_config.json's settings, with every option given in its place. */
    private GenerationConfig config(TorchConsistencyModel model) {
        GenerationConfig.Builder b = model.generationConfig().toBuilder();
        if (maxNewTokens != null) {
            b.maxNewTokens(maxNewTokens);
        }
        if (minNewTokens != null) {
            b.minNewTokens(minNewTokens);
        }
        if (temperature != null) {
            b.sampling(temperature);
        }
        if (topK != null) {
            b.topK(topK).doSample(true);
        }
        if (topP != null) {
            b.topP(topP).doSample(true);
        }
        if (minP != null) {
            b.minP(minP).doSample(true);
        }
        if (repetitionPenalty != null) {
            b.repetitionPenalty(repetitionPenalty);
        }
        if (presencePenalty != null) {
            b.presencePenalty(presencePenalty);
        }
        if (frequencyPenalty != null) {
            b.frequencyPenalty(frequencyPenalty);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (greedy) {
            b.greedy();
        }
        if (stops != null) {
            b.stop(stops.toArray(String[]::new));
        }
        if (noStop) {
            b.noStop();
        }
        return b.build();
    }

    private Decoder decoder() {
        BlockInitializer initializer = BlockInitializer.named(init);
        return switch (decoder) {
            case "ar" -> JacobiDecoder.builder().blockSize(1).initializer(initializer).seed(guessSeed).build();
            case "jacobi" -> JacobiDecoder.builder().blockSize(blockSize).initializer(initializer).seed(guessSeed)
                    .build();
            case "lookahead" -> {
                if (blockSize < 2) {
                    throw new IllegalArgumentException("--block-size must be >= 2 for lookahead, got " + blockSize);
                }
                LookaheadDecoder.Builder b = LookaheadDecoder.builder().window(blockSize).initializer(initializer)
                        .seed(guessSeed);
                if (sources != null) {
                    Set<CandidateSource> chosen = EnumSet.noneOf(CandidateSource.class);
                    sources.forEach(s -> chosen.add(CandidateSource.of(s)));
                    b.sources(chosen);
                }
                yield b.build();
            }
            default -> throw new IllegalArgumentException("--decoder must be ar, jacobi or lookahead, got '" + decoder
                    + "'");
        };
    }

    /** The chat of --chat or --user/--system, or null for a plain prompt. */
    private List<ChatMessage> chat() {
        if (system != null && prompt.user == null) {
            throw new IllegalArgumentException("--system goes with --user");
        }
        if (prompt.user != null) {
            List<ChatMessage> messages = new ArrayList<>();
            if (system != null) {
                messages.add(ChatMessage.system(system));
            }
            messages.add(ChatMessage.user(prompt.user));
            return messages;
        }
        if (prompt.chat == null) {
            return null;
        }
        List<Map<String, String>> raw;
        try {
            raw = JSON.readValue(Files.readString(prompt.chat), new TypeReference<>() { });
        } catch (IOException e) {
            if (!Files.exists(prompt.chat)) {
                throw new IllegalArgumentException("--chat " + prompt.chat + ": no such file");
            }
            throw new IllegalArgumentException("--chat " + prompt.chat + ": not a JSON list of {\"role\", "
                    + "\"content\"} messages: " + e.getMessage());
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            Map<String, String> m = raw.get(i);
            try {
                messages.add(new ChatMessage(m.get("role"), m.get("content")));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--chat " + prompt.chat + ": message " + i + ": " + e.getMessage());
            }
        }
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("--chat " + prompt.chat + ": no messages");
        }
        return messages;
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

    private ObjectNode toJson(Generation g, Decoder d) {
        DecodingStats s = g.stats();
        ObjectNode o = JSON.createObjectNode();
        g.prompt().stream().forEach(o.putArray("prompt_ids")::add);
        g.ids().stream().forEach(o.putArray("ids")::add);
        o.put("text", g.text());
        o.put("new_tokens", s.newTokens());
        o.put("forward_passes", s.forwardPasses());
        o.put("elapsed_ms", s.elapsedNanos() / 1e6);
        o.put("stop_reason", g.stopReason().name().toLowerCase(Locale.ROOT));
        if (g.stopToken() >= 0) {
            o.put("stop_token", g.stopToken());
        }
        if (g.stopString() != null) {
            o.put("stop_string", g.stopString());
        }
        if (g.seed() != null) {
            o.put("seed", g.seed());
        }
        if (!(d instanceof JacobiDecoder j && j.blockSize() == 1)) {
            o.put("tokens_per_pass", s.tokensPerPass());
        }
        if (d instanceof JacobiDecoder j && j.blockSize() > 1) {
            o.put("fast_forwarded", s.fastForwarded());
            o.put("stationary", s.stationary());
            o.put("block_size", j.blockSize());
        }
        if (!s.acceptedBySource().isEmpty()) {
            o.put("decoder", d.name());
            o.put("fast_forwarded", s.fastForwarded());
            ObjectNode by = o.putObject("accepted_by_source");
            s.acceptedBySource().forEach(by::put);
            o.put("tokens_run_per_pass", s.meanBudget());
        }
        return o;
    }

    private static void printHuman(PrintStream out, Generation g, Decoder d, boolean textStreamed,
                                   boolean idsStreamed) {
        DecodingStats s = g.stats();
        if (g.text() != null && !textStreamed) {
            out.println(g.text());
        }
        if (!idsStreamed) {
            out.println("ids: " + g.ids());
        }
        String stop = g.stopReason().name().toLowerCase(Locale.ROOT)
                + (g.stopString() != null ? " " + JSON.valueToTree(g.stopString()) : "")
                + (g.stopToken() >= 0 ? " " + g.stopToken() : "");
        out.printf(Locale.ROOT, "%s: %d tokens in %d forward passes (%.2f tokens/pass, %d fast-forwarded, "
                        + "%d stationary), %.1f ms (%.1f tokens/s), stop: %s%s%n",
                d.name(), s.newTokens(), s.forwardPasses(), s.tokensPerPass(), s.fastForwarded(),
                s.stationary(), s.elapsedNanos() / 1e6, s.tokensPerSecond(), stop,
                g.seed() != null ? ", seed " + g.seed() : "");
        if (!s.acceptedBySource().isEmpty()) {
            out.printf(Locale.ROOT, "  accepted beyond one per pass, by source: %s; %.1f tokens run per pass%n",
                    s.acceptedBySource(), s.meanBudget());
        }
    }
}
