package example;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Generation;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;

import java.nio.file.Path;

/**
 * Answers one text-to-SQL question with the CLLM in the directory given as the first argument: Jacobi decoding, then
 * greedy AR decoding for comparison. Prints {@code jacobi: SQL}, {@code ar: SQL} and the tokens per pass.
 */
public final class SqlQuestion {
    /** A held-out question of the shipped model's task, in the prompt format it was trained on. */
    static final String PROMPT = "schema : city ( id , name , population ) movie ( id , name , genre , director_id ) "
            + "director ( id , name , age , city ) question : how many directors are there where age equals 42 ? sql :";

    public static void main(String[] args) {
        try (ConsistencyModel model = TorchConsistencyModel.load(Path.of(args[0]))) {
            Generation jacobi = JacobiDecoder.builder().blockSize(8).maxNewTokens(64).build().generate(model, PROMPT);
            Generation ar = JacobiDecoder.autoregressive(64).generate(model, PROMPT);
            System.out.println("jacobi: " + jacobi.text());
            System.out.println("ar: " + ar.text());
            System.out.println("tokens per pass: " + jacobi.stats().tokensPerPass());
        }
    }
}
