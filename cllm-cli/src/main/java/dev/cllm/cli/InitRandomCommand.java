package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.RandomCheckpoint;
import dev.cllm.train.HfExport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code ./cllm init-random}: a random checkpoint of any LLaMA shape, streamed to disk ({@link RandomCheckpoint}). */
@Command(name = "init-random", mixinStandardHelpOptions = true,
        description = {"Write a Hugging Face checkpoint with random weights (matrices N(0, 0.02^2), norms 1) of a "
                + "LLaMA shape: config.json and safetensors shards with their index. The weights are generated "
                + "chunk by chunk on every core straight in the storage dtype and streamed to disk, so memory stays "
                + "small whatever the size; the same seed gives the same files for any thread count. "
                + "config.json is written last: a directory without it is incomplete.",
                "The benchmark models random-SHAPE are these weights (seed 1) in fp32."})
final class InitRandomCommand implements Callable<Integer> {
    private static final double BYTES_PER_GB = 1e9;

    @Option(names = "--shape", required = true, paramLabel = "SHAPE",
            description = "tinyllama-1.1b, llama-7b, or d<hidden>-l<layers>-h<heads>-kv<kv heads>-f<ffn>-v<vocab> "
                    + "(kv defaults to h; optionally -p<max positions>, default 1024), e.g. "
                    + "d4096-l32-h32-kv32-f11008-v32000")
    String shape;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "the checkpoint directory to create (must not exist, or be empty)")
    Path out;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "bf16",
            description = "storage dtype: bf16, f16 or f32 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
            description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-shard-gb", paramLabel = "G", defaultValue = "5",
            description = "largest shard in GB (1e9 bytes); one model.safetensors when everything fits "
                    + "(default: ${DEFAULT-VALUE})")
    double maxShardGb;

    @Option(names = "--threads", paramLabel = "N",
            description = "generating threads (default: the number of cores)")
    Integer threads;

    @Override
    public Integer call() {
        LlamaConfig config;
        try {
            config = RandomCheckpoint.shape(shape);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--shape: " + e.getMessage(), e);
        }
        ComputeDtype storage = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "bf16", "bfloat16" -> ComputeDtype.BF16;
            case "f16", "fp16", "float16" -> ComputeDtype.F16;
            case "f32", "fp32", "float32" -> ComputeDtype.F32;
            default -> throw new IllegalArgumentException("--dtype must be bf16, f16 or f32, got '" + dtype + "'");
        };
        if (!(maxShardGb > 0) || maxShardGb * BYTES_PER_GB >= Long.MAX_VALUE) {
            throw new IllegalArgumentException("--max-shard-gb must be a positive number of GB, got " + maxShardGb);
        }
        if (threads != null && threads < 1) {
            throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        }
        if (!HfExport.isAbsentOrEmptyDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " exists and is not an empty directory");
        }
        long start = System.nanoTime();
        RandomCheckpoint.write(out, config, seed, storage, (long) (maxShardGb * BYTES_PER_GB),
                threads != null ? threads : Runtime.getRuntime().availableProcessors());
        double seconds = (System.nanoTime() - start) / 1e9;
        long bytes = directoryBytes(out);
        System.out.println(new ObjectMapper().createObjectNode().put("out", out.toString())
                .put("shape", shape).put("dtype", storage.name().toLowerCase(Locale.ROOT))
                .put("parameters", config.parameterCount()).put("bytes", bytes)
                .put("seconds", Math.round(seconds * 100) / 100.0)
                .put("gb_per_s", Math.round(bytes / BYTES_PER_GB / seconds * 1000) / 1000.0));
        return 0;
    }

    private static long directoryBytes(Path dir) {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e, e);
        }
    }
}
