package dev.cllm.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationListener;
import dev.cllm.serve.GenerationService;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.RepositoryModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link OpenAiServer} exercised by the JDK's HTTP client on the embedded SQL model: concurrent completions answer
 * what decoding each prompt alone gives, a streamed completion's server-sent events concatenate to the same text and
 * end with a finish reason and {@code [DONE]}, chat completions take a user message, and bad requests and limits
 * get OpenAI-style errors with the right status.
 */
class OpenAiServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TorchConsistencyModel model;
    private static GenerationService service;
    private static OpenAiServer server;
    private static List<String> prompts;
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() throws IOException {
        Path dir = RepositoryModels.checkpoint("sql-base");
        prompts = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("bench-prompts.jsonl")).subList(0, 4)) {
            prompts.add(JSON.readTree(line).get("prompt").asText());
        }
        model = TorchConsistencyModel.load(dir, TorchOptions.defaults().withDevice("cpu"));
        service = GenerationService.builder(model).maxNewTokens(64).build();
        server = OpenAiServer.start(service, "sql-base", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (service != null) {
            service.close();
        }
        if (model != null) {
            model.close();
        }
    }

    static HttpRequest post(String path, String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    static String completion(String prompt, boolean stream) throws IOException {
        return JSON.writeValueAsString(JSON.createObjectNode().put("prompt", prompt).put("max_tokens", 40)
                .put("temperature", 0).put("stream", stream));
    }

    static Generation alone(String prompt, int maxTokens) {
        return service.decoder().generate(model, prompt,
                model.generationConfig().toBuilder().greedy().maxNewTokens(maxTokens).build(), GenerationListener.NONE);
    }

    @Test
    void concurrentCompletionsAnswerWhatDecodingAloneGives() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (String p : prompts) {
            responses.add(CLIENT.sendAsync(post("/v1/completions", completion(p, false)),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < prompts.size(); i++) {
            HttpResponse<String> r = responses.get(i).get(120, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            JsonNode body = JSON.readTree(r.body());
            Generation expected = alone(prompts.get(i), 40);
            assertThat(body.get("object").asText()).isEqualTo("text_completion");
            assertThat(body.get("model").asText()).isEqualTo("sql-base");
            assertThat(body.at("/choices/0/text").asText()).isEqualTo(expected.text()).startsWith("SELECT");
            assertThat(body.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
            assertThat(body.at("/usage/completion_tokens").asInt()).isEqualTo(expected.ids().size());
        }
    }

    @Test
    void aStreamedCompletionSendsTheSameTextAsServerSentEvents() throws Exception {
        HttpResponse<String> r = CLIENT.send(post("/v1/completions", completion(prompts.get(1), true)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("text/event-stream");
        List<String> events = new ArrayList<>();
        for (String block : r.body().split("\n\n")) {
            assertThat(block).startsWith("data: ");
            events.add(block.substring("data: ".length()));
        }
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        for (String e : events.subList(0, events.size() - 2)) {
            JsonNode chunk = JSON.readTree(e);
            assertThat(chunk.at("/choices/0/finish_reason").isNull()).isTrue();
            text.append(chunk.at("/choices/0/text").asText());
        }
        assertThat(events.size()).as("several pieces, a finish chunk and [DONE]").isGreaterThan(3);
        assertThat(JSON.readTree(events.get(events.size() - 2)).at("/choices/0/finish_reason").asText())
                .isEqualTo("stop");
        assertThat(text.toString()).isEqualTo(alone(prompts.get(1), 40).text());
    }

    @Test
    void chatCompletionsTakeAUserMessageAndStreamDeltas() throws Exception {
        String messages = JSON.writeValueAsString(JSON.createObjectNode().put("max_tokens", 40).put("temperature", 0)
                .set("messages", JSON.createArrayNode().add(JSON.createObjectNode().put("role", "user")
                        .put("content", prompts.get(2)))));
        HttpResponse<String> r = CLIENT.send(post("/v1/chat/completions", messages),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = JSON.readTree(r.body());
        String expected = alone(prompts.get(2), 40).text();
        assertThat(body.get("object").asText()).isEqualTo("chat.completion");
        assertThat(body.at("/choices/0/message/role").asText()).isEqualTo("assistant");
        assertThat(body.at("/choices/0/message/content").asText()).isEqualTo(expected);

        JsonNode streamed = JSON.readTree(messages);
        ((com.fasterxml.jackson.databind.node.ObjectNode) streamed).put("stream", true);
        HttpResponse<String> s = CLIENT.send(post("/v1/chat/completions", JSON.writeValueAsString(streamed)),
                HttpResponse.BodyHandlers.ofString());
        StringBuilder text = new StringBuilder();
        for (String block : s.body().split("\n\n")) {
            String data = block.substring("data: ".length());
            if (!data.equals("[DONE]")) {
                JsonNode chunk = JSON.readTree(data);
                assertThat(chunk.get("object").asText()).isEqualTo("chat.completion.chunk");
                text.append(chunk.at("/choices/0/delta/content").asText(""));
            }
        }
        assertThat(text.toString()).isEqualTo(expected);
    }

    @Test
    void badRequestsAndLimitsGetOpenAiErrors() throws Exception {
        HttpResponse<String> notJson = CLIENT.send(post("/v1/completions", "{not json"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(notJson.body()).at("/error/type").asText()).isEqualTo("invalid_request_error");

        HttpResponse<String> noPrompt = CLIENT.send(post("/v1/completions", "{\"max_tokens\": 4}"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(noPrompt.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(noPrompt.body()).at("/error/message").asText()).contains("'prompt'");

        HttpResponse<String> tooLong = CLIENT.send(post("/v1/completions",
                "{\"prompt\": \"question\", \"max_tokens\": 500}"), HttpResponse.BodyHandlers.ofString());
        assertThat(tooLong.statusCode()).isEqualTo(429);
        assertThat(JSON.readTree(tooLong.body()).at("/error/message").asText()).contains("maxNewTokens");

        HttpResponse<String> get = CLIENT.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/v1/completions")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(get.statusCode()).isEqualTo(405);
    }
}
