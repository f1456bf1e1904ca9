package dev.cllm.cli;

import dev.cllm.bench.BenchJson;
import dev.cllm.bench.BenchMarkdown;
import dev.cllm.bench.BenchOptions;
import dev.cllm.bench.BenchResults;
import dev.cllm.bench.BenchSuite;
import dev.cllm.bench.ResultsFolder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * {@code ./cllm bench}: runs a chosen subset of the JMH benchmarks and the peer benchmark against llama.cpp
 * ({@link BenchSuite}) and writes a results folder (JSON, Markdown, PNG charts, machine description, JMH's log). With
 * {@code --json} the one JSON object goes to stdout and the progress to stderr.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run the JMH benchmarks (forward cost against n, AR against Jacobi generation, trajectory "
                + "collection) and the peer benchmark (our engine in every weight format against llama.cpp F16 and "
                + "Q8_0 on the same weights, in this process), and write results.json, results.md, machine.json, PNG "
                + "charts and jmh.log into a results folder.",
            "Exit status 1 if a benchmark configuration failed (its row has an error)."})
final class BenchCommand implements java.util.concurrent.Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--quick", description = "1 warm-up and 3 measured iterations of 1 s, fewer n and block sizes "
            + "(about 2-3 minutes)")
    boolean quick;

    @Option(names = "--json", description = "print one JSON object on stdout (JMH's progress goes to stderr)")
    boolean json;

    @Option(names = "--out", paramLabel = "DIR",
            description = "results folder (default: bench-results/<timestamp> in the repository)")
    Path out;

    @Option(names = "--benchmarks", split = ",", paramLabel = "LIST", converter = PartConverter.class,
            description = "forward, generation, collection, peers, serving (default: forward,generation)")
    List<BenchOptions.Part> benchmarks = new ArrayList<>();

    @Option(names = "--models", split = ",", paramLabel = "LIST",
            description = "models for every selected benchmark: stories260K, random50M, "
                    + "random-d<D>-l<L>-h<H>-kv<KV>-f<F>-v<V>, sql-base, sql-cllm, dir:PATH (default: forward "
                    + "stories260K,random50M; generation stories260K and the SQL models where they exist; collection "
                    + "stories260K; peers random50M, written as a bf16 checkpoint in a temporary folder; peers takes "
                    + "no +kernel suffix; serving sql-cllm where it exists)")
    List<String> models = new ArrayList<>();

    @Option(names = "--n", split = ",", paramLabel = "LIST",
            description = "forward: new tokens per pass (default: the --block-sizes if given, else 1,2,4,8,16,32,64; "
                    + "quick 1,4,16,64)")
    List<Integer> n = new ArrayList<>();

    @Option(names = "--block-sizes", split = ",", paramLabel = "LIST",
            description = "generation block sizes, 1 = AR, always added (default 1,4,8,16,32; quick 1,8,16); "
                    + "collection uses those >= 2 (default 16); peers: the Jacobi block sizes, those >= 2 (default 8)")
    List<Integer> blockSizes = new ArrayList<>();

    @Option(names = "--decoders", split = ",", paramLabel = "LIST",
            description = "generation: decoders run at the block sizes from 2, jacobi and/or lookahead (lookahead: the "
                    + "block size is its window; candidates from the prompt, the window and recycled tails); AR always "
                    + "runs (default jacobi,lookahead); serving: ar and these, at their default block sizes")
    List<String> decoders = new ArrayList<>();

    @Option(names = "--contexts", split = ",", paramLabel = "LIST",
            description = "forward: cached tokens before the pass; peers: the first, before the AR steps and the "
                    + "timed passes (default 128)")
    List<Integer> contexts = new ArrayList<>();

    @Option(names = "--threads", split = ",", paramLabel = "LIST",
            description = "libtorch/OpenBLAS threads per configuration, TORCH/BLAS or default (default: default); "
                    + "peers: one run per setting, llama.cpp on the larger count unless --llama-threads")
    List<String> threads = new ArrayList<>();

    @Option(names = "--dtypes", split = ",", paramLabel = "LIST",
            description = "compute dtypes: auto, f32, bf16, f16 (default: auto)")
    List<String> dtypes = new ArrayList<>();

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "128",
            description = "generation and collection: new tokens per prompt, EOS ignored except by task models "
                    + "with their own prompts, which stop at EOS; peers: new tokens per Jacobi generation; serving: "
                    + "per request (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--rounds", paramLabel = "R", defaultValue = "" + BenchOptions.PEER_ROUNDS,
            description = "peers: measured rounds after one warm-up round, every engine once per round in a rotating "
                    + "order (default: ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--ar-tokens", paramLabel = "N", defaultValue = "" + BenchOptions.PEER_AR_TOKENS,
            description = "peers: greedy single-token steps timed per round and engine (default: ${DEFAULT-VALUE})")
    int arTokens;

    @Option(names = "--llama-threads", paramLabel = "N",
            description = "peers: llama.cpp's threads (default: the larger of the libtorch and OpenBLAS counts)")
    Integer llamaThreads;

    @Option(names = "--clients", split = ",", paramLabel = "LIST",
            description = "serving: concurrent clients, each sending requests one after another through one service, "
                    + "and as many threads each calling generate (default 1,2,4,8,16)")
    List<Integer> clients = new ArrayList<>();

    @Option(names = "--requests-per-client", paramLabel = "N",
            defaultValue = "" + BenchOptions.SERVING_REQUESTS_PER_CLIENT,
            description = "serving: requests each client sends (default: ${DEFAULT-VALUE})")
    int requestsPerClient;

    @Option(names = "--max-wait-ms", paramLabel = "MS",
            description = "serving: a fixed wait for a step's missing passes (default: the service's adaptive wait)")
    Double maxWaitMs;

    @Option(names = "--device", paramLabel = "DEV", description = "cpu (default), cuda or cuda:N")
    String device;

    /** {@code --benchmarks}: a benchmark by its name on the command line ({@link BenchOptions.Part#label()}). */
    static final class PartConverter implements CommandLine.ITypeConverter<BenchOptions.Part> {
        @Override
        public BenchOptions.Part convert(String value) {
            for (BenchOptions.Part p : BenchOptions.Part.values()) {
                if (p.label().equals(value.strip().toLowerCase(Locale.ROOT))) {
                    return p;
                }
            }
            throw new CommandLine.TypeConversionException("unknown benchmark '" + value
                    + "' (forward, generation, collection, peers, serving)");
        }
    }

    /**
     * The run these options describe. {@code --block-sizes} without {@code --n} sets the forward n too, so that one
     * list of sizes measures both the cost of a pass and generation.
     *
     * @throws IllegalArgumentException from {@link BenchOptions.Builder}, naming a bad value
     */
    BenchOptions options() {
        BenchOptions.Builder b = BenchOptions.builder().quick(quick).parts(benchmarks).models(models)
                .n(n.isEmpty() ? blockSizes : n).blockSizes(blockSizes).decoders(decoders).contexts(contexts)
                .threads(threads).dtypes(dtypes).maxNewTokens(maxNewTokens).rounds(rounds).arTokens(arTokens)
                .llamaThreads(llamaThreads).clients(clients).requestsPerClient(requestsPerClient);
        b.maxWait(ServingBenchCommand.maxWait(maxWaitMs));
        if (device != null) {
            b.device(device);
        }
        return b.build();
    }

    /** The results folder: {@code --out}, else a new timestamped folder under the repository's bench-results. */
    Path resultsDir() {
        return out != null ? out : ResultsFolder.timestamped(Cli.home().resolve("bench-results"), LocalDateTime.now());
    }

    @Override
    public Integer call() {
        BenchOptions options = options();
        PrintStream console = json ? System.err : System.out;
        BenchSuite.Run run;
        try {
            run = BenchSuite.runInto(options, resultsDir(), Cli.commandLine(spec), console);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        BenchResults r = run.results();
        if (json) {
            System.out.println(BenchJson.compact(BenchJson.results(r, run.machine(), run.dir().toString())));
        } else {
            System.out.println();
            System.out.println(BenchMarkdown.document(r, run.machine(), List.of()));
            System.out.println("results: " + run.dir());
            run.files().forEach(f -> System.out.println("  " + f.getFileName()));
        }
        boolean failed = Stream.of(r.forwardCost().stream().map(BenchResults.ForwardRow::error),
                r.generation().stream().map(BenchResults.GenerationRow::error),
                r.collection().stream().map(BenchResults.CollectionRow::error),
                r.peers().stream().map(BenchResults.PeerRun::error),
                r.serving().stream().map(row -> row.identicalToAlone() ? null
                        : row.model() + " " + row.decoder() + ": output differs from decoding alone"))
                .flatMap(s -> s).anyMatch(e -> e != null);
        return failed ? Cli.FAILURE : 0;
    }
}
