package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.data.AuthorsFormat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code ./cllm convert}: between our trajectory format and the CLLM authors' JSON. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a trajectory dataset between our JSON lines and the CLLM authors' JSON format.")
final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--in", required = true, paramLabel = "FILE", description = "the file to read")
    Path in;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "the file to write")
    Path out;

    @Option(names = "--to", required = true, paramLabel = "authors|cllm",
            description = "authors: a JSON array as hao-ai-lab/Consistency_LLM's trainer reads it; cllm: ours")
    String to;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(in)) {
            throw new IllegalArgumentException("--in " + in + ": no such file");
        }
        long records = switch (to) {
            case "authors" -> AuthorsFormat.exportFile(in, out);
            case "cllm" -> AuthorsFormat.importFile(in, out);
            default -> throw new IllegalArgumentException("--to must be authors or cllm, got '" + to + "'");
        };
        System.out.println(new ObjectMapper().createObjectNode().put("records", records).put("out", out.toString()));
        return 0;
    }
}
