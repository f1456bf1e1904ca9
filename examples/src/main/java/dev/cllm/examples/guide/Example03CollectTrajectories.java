package dev.cllm.examples.guide;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrajectoryCollector;
import dev.cllm.jacobi.JacobiTrajectoryCollector;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.data.RepetitionFilter;
import dev.cllm.data.TrajectoryReader;
import dev.cllm.data.TrajectoryRecord;
import dev.cllm.data.TrajectoryWriter;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Example 03: collect Jacobi trajectories, the training data of a CLLM, clean them and write them as JSON lines.
 *
 * <pre>
 * ./cllm example 03 [OUT_DIR [MODEL_DIR]]
 * </pre>
 *
 * <p>A trajectory is one Jacobi block's sequence of states, from the initial guess to the fixed point (which equals
 * greedy AR output), together with its context. A CLLM is trained to jump from any state straight to the fixed point
 * (Kou et al. 2024, section 3.2). This example decodes a handful of prompts block by block with
 * {@link JacobiTrajectoryCollector} (n = {@value #BLOCK_SIZE}), drops repetitive trajectories with
 * {@link RepetitionFilter}, writes the rest with {@link TrajectoryWriter} to {@code OUT_DIR/trajectories.jsonl}
 * (default: a new temporary directory) and reads the file back with {@link TrajectoryReader}.
 *
 * <p>For real datasets use {@code ./cllm collect} (or {@code dev.cllm.data.CollectionJob}, which example 04 uses):
 * the same collector and filter, plus prompt files, resuming after a crash and sharding; see
 * {@code docs/trajectories.md}. {@code -} keeps an argument's default.
 */
public final class Example03CollectTrajectories {
    static final int BLOCK_SIZE = 16;
    /** Rounded up to whole blocks: the prefill's token, then 4 blocks of 16. */
    static final int MAX_NEW_TOKENS = 64;
    /**
     * Prompts as token ids (stories260K has no tokenizer): its reference prompts, BOS = 1 first. Another MODEL_DIR
     * must accept ids below 512.
     */
    static final List<TokenIds> PROMPTS = List.of(
            TokenIds.of(1, 404, 475, 464, 454, 275),
            TokenIds.of(1, 385, 453, 374, 379),
            TokenIds.of(1, 283, 383, 266, 487, 472, 358, 369),
            TokenIds.of(1, 373, 327, 443, 464, 317, 410, 500, 285, 489, 340, 266, 264, 265, 425, 397, 261, 499, 484,
                    356, 434, 314, 507, 367),
            TokenIds.of(1, 315, 454, 371, 499, 385, 400, 318, 347, 318, 432, 315, 453, 376, 502, 333, 496, 264));

    /**
     * What the example produced.
     *
     * @param file      the JSON lines file
     * @param collected trajectories the collector returned
     * @param verdicts  how many of them the filter kept or dropped, by verdict
     * @param written   records in the file (read back)
     */
    public record Result(Path file, int collected, Map<RepetitionFilter.Verdict, Integer> verdicts, int written) {
    }

    private Example03CollectTrajectories() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length > 2) {
            throw new IllegalArgumentException("usage: Example03CollectTrajectories [OUT_DIR [MODEL_DIR]]");
        }
        Path outDir = given(args, 0) ? Path.of(args[0]) : Files.createTempDirectory("cllm-example03-");
        Path modelDir = given(args, 1) ? Path.of(args[1])
                : Path.of(System.getProperty("cllm.home", ".")).resolve("models").resolve("stories260K");
        run(modelDir, outDir, System.out);
    }

    private static boolean given(String[] args, int i) {
        return args.length > i && !args[i].equals("-");
    }

    public static Result run(Path modelDir, Path outDir, PrintStream out) {
        Path file = outDir.resolve("trajectories.jsonl");
        try (ConsistencyModel model = TorchConsistencyModel.load(modelDir)) {
            // The collector: block size n, a token budget per prompt (rounded up to whole blocks), guesses sampled
            // from the context with a seed. It stops a prompt after the block in which EOS appears, and runs that
            // block to its fixed point. Immutable; it borrows a session per call.
            TrajectoryCollector collector = JacobiTrajectoryCollector.builder()
                    .blockSize(BLOCK_SIZE).maxNewTokens(MAX_NEW_TOKENS).seed(0).build();

            // The cleaning the CLLM authors apply (a run of 10 identical tokens reaching into the fixed point) plus
            // ours (a 4-gram generated 4 times), looking at tokens before the first EOS only.
            RepetitionFilter filter = RepetitionFilter.defaults().withEosTokenIds(model.config().eosTokenIds());

            Map<RepetitionFilter.Verdict, Integer> verdicts = new EnumMap<>(RepetitionFilter.Verdict.class);
            for (RepetitionFilter.Verdict v : RepetitionFilter.Verdict.values()) {
                verdicts.put(v, 0);
            }
            int collected = 0;
            Files.createDirectories(outDir);
            // One session (one KV cache) reused for every prompt; the writer truncates an existing file.
            try (DecodingSession session = model.newSession();
                 TrajectoryWriter writer = TrajectoryWriter.create(file)) {
                for (int i = 0; i < PROMPTS.size(); i++) {
                    Prompt prompt = Prompt.of(i, PROMPTS.get(i));
                    TrajectoryCollector.Result result = collector.collect(session, prompt);
                    out.printf(Locale.ROOT, "prompt %d %s: %d blocks, %.3f tokens per pass%n", i, prompt.ids(),
                            result.trajectories().size(), result.generation().stats().tokensPerPass());
                    for (Trajectory t : result.trajectories()) {
                        collected++;
                        // A record is a trajectory plus the length of its prompt (the context also holds the fixed
                        // points of the earlier blocks).
                        TrajectoryRecord record = TrajectoryRecord.of(t, prompt.ids().size());
                        RepetitionFilter.Verdict verdict = filter.verdict(record);
                        verdicts.merge(verdict, 1, Integer::sum);
                        out.printf(Locale.ROOT, "  block %d: context %3d tokens, %2d states, fixed point %s%s%n",
                                t.block(), t.context().size(), t.states().size(), t.fixedPoint(),
                                verdict == RepetitionFilter.Verdict.KEEP ? "" : "  dropped: " + verdict);
                        if (verdict == RepetitionFilter.Verdict.KEEP) {
                            writer.write(record);
                        }
                    }
                }
            }
            out.printf(Locale.ROOT, "collected %d trajectories: kept %d, dropped %d (token run) + %d (repeated "
                            + "4-gram)%n", collected, verdicts.get(RepetitionFilter.Verdict.KEEP),
                    verdicts.get(RepetitionFilter.Verdict.TOKEN_RUN),
                    verdicts.get(RepetitionFilter.Verdict.REPEATED_NGRAM));

            // Read the file back: every line is validated (states of equal length, fixed point = last state, ...).
            List<TrajectoryRecord> back = TrajectoryReader.readAll(file);
            out.printf(Locale.ROOT, "wrote %s: %d records, %,d bytes%n", file, back.size(), Files.size(file));
            if (!back.isEmpty()) {
                String first = Files.readAllLines(file).get(0);
                out.println("first line: " + (first.length() > 160 ? first.substring(0, 160) + " ..." : first));
            }
            return new Result(file, collected, verdicts, back.size());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
