package dev.cllm.cli;

import dev.cllm.bench.BlockSizeOracle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code ./cllm bench-oracle}: how much an adaptive block size could gain at most over the best fixed one
 * ({@link BlockSizeOracle}); prints a Markdown table.
 */
@Command(name = "bench-oracle", mixinStandardHelpOptions = true,
        description = {"Decode every benchmark prompt of a model with each block size and compare the best fixed n "
                + "with an oracle that picks the fastest n per prompt after the fact (the most an adaptive block size "
                + "could gain)."})
final class BlockSizeOracleCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL",
            description = "a benchmark model name (stories260K, sql-base, sql-cllm, random50M, ...) or dir:PATH")
    String model;

    @Option(names = "--n", split = ",", paramLabel = "LIST",
            description = "block sizes to compare (default: 1,2,4,6,8,12,16)")
    List<Integer> n = new ArrayList<>(BlockSizeOracle.DEFAULT_BLOCK_SIZES);

    @Option(names = "--repetitions", paramLabel = "R",
            description = "timed decodings per prompt and n after one warm-up; the best counts (default: "
                    + "${DEFAULT-VALUE})")
    int repetitions = BlockSizeOracle.DEFAULT_REPETITIONS;

    @Option(names = "--max-new-tokens", paramLabel = "N",
            description = "new tokens per prompt; task models stop at EOS (default: ${DEFAULT-VALUE})")
    int maxNewTokens = BlockSizeOracle.DEFAULT_MAX_NEW_TOKENS;

    @Override
    public Integer call() {
        System.out.print(BlockSizeOracle.run(model, n, repetitions, maxNewTokens));
        return 0;
    }
}
