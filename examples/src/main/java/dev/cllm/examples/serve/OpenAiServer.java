package dev.cllm.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.cllm.api.ChatMessage;
import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.serve.GenerationRequest;
import dev.cllm.serve.GenerationService;
import dev.cllm.serve.RequestAbortedException;
import dev.cllm.serve.RequestRejectedException;
import dev.cllm.torch.TorchConsistencyModel;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An OpenAI-style HTTP endpoint over a {@link GenerationService}, on the JDK's own HTTP server: {@code POST
 * /v1/completions} (a text prompt) and {@code POST /v1/chat/completions} (messages), each answering with one JSON
 * object, or with {@code "stream": true} as server-sent events (one {@code data:} chunk per text piece, a last chunk
 * with the finish reason, then {@code data: [DONE]}). Concurrent requests share the service's batched steps.
 *
 * <pre>
 * java -cp ... dev.cllm.examples.serve.OpenAiServer [MODEL_DIR [PORT]]     # default models/sql-base 8080
 * curl -s localhost:8080/v1/completions -d '{"prompt": "...", "max_tokens": 32}'
 * </pre>
 *
 * <p>Request fields: {@code prompt} or {@code messages}, {@code max_tokens}, {@code temperature} (0 is greedy),
 * {@code top_p}, {@code top_k}, {@code seed}, {@code stop} (a string or a list), {@code stream}. A bad request is
 * answered 400, a rejection by the service's limits 429 (503 once it shuts down), a failure 500, each with OpenAI's
 * {@code {"error": {"message", "type"}}}. A client that goes away mid-stream cancels its generation. An example, not a
 * production server: no authentication, no TLS.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final GenerationService service;
    private final String modelName;
    private final HttpServer http;
    private final ExecutorService handlers;
    private final AtomicLong ids = new AtomicLong();

    private OpenAiServer(GenerationService service, String modelName, InetSocketAddress address) throws IOException {
        this.service = service;
        this.modelName = modelName;
        this.http = HttpServer.create(address, 64);
        this.handlers = Executors.newCachedThreadPool();
        http.setExecutor(handlers);
        http.createContext("/v1/completions", e -> handle(e, false));
        http.createContext("/v1/chat/completions", e -> handle(e, true));
        http.start();
    }

    /**
     * Serves {@code service} (borrowed: close it after this server) at {@code address} (port 0: any free port).
     *
     * @throws UncheckedIOException if the address cannot be bound
     */
    public static OpenAiServer start(GenerationService service, String modelName, InetSocketAddress address) {
        try {
            return new OpenAiServer(service, modelName, address);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
    }

    /** The port the server listens on. */
    public int port() {
        return http.getAddress().getPort();
    }

    /** Stops listening and waits up to a second for exchanges in progress. */
    @Override
    public void close() {
        http.stop(1);
        handlers.shutdownNow();
    }

    public static void main(String[] args) throws InterruptedException {
        Path dir = Path.of(args.length > 0 ? args[0] : "models/sql-base");
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 8080;
        try (ConsistencyModel model = TorchConsistencyModel.load(dir);
             GenerationService service = GenerationService.builder(model).build();
             OpenAiServer server = start(service, dir.getFileName().toString(), new InetSocketAddress(port))) {
            System.out.println("serving " + dir + " on http://localhost:" + server.port()
                    + "/v1/completions and /v1/chat/completions; Ctrl-C stops");
            Thread.currentThread().join();
        }
    }

    // ------------------------------------------------------------------------------------------------ one exchange

    private void handle(HttpExchange exchange, boolean chat) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("POST")) {
                error(exchange, 405, "invalid_request_error", "use POST");
                return;
            }
            JsonNode body;
            GenerationRequest.Builder request;
            boolean stream;
            try (InputStream in = exchange.getRequestBody()) {
                body = JSON.readTree(in);
                if (body == null || !body.isObject()) {
                    throw new IllegalArgumentException("the request body must be a JSON object");
                }
                request = chat ? GenerationRequest.chat(messages(body)) : GenerationRequest.text(text(body, "prompt"));
                request.config(config(body));
                stream = body.path("stream").asBoolean(false);
            } catch (IOException | IllegalArgumentException e) {
                error(exchange, 400, "invalid_request_error", e.getMessage());
                return;
            }
            String id = (chat ? "chatcmpl-" : "cmpl-") + ids.incrementAndGet();
            if (stream) {
                stream(exchange, request, id, chat);
            } else {
                complete(exchange, request, id, chat);
            }
        }
    }

    private void complete(HttpExchange exchange, GenerationRequest.Builder request, String id, boolean chat)
            throws IOException {
        Generation g;
        try {
            g = service.submit(request.build()).join();
        } catch (RuntimeException e) {
            fail(exchange, e);
            return;
        }
        ObjectNode choice = JSON.createObjectNode().put("index", 0);
        if (chat) {
            choice.putObject("message").put("role", "assistant").put("content", g.text());
        } else {
            choice.put("text", g.text());
        }
        choice.put("finish_reason", finishReason(g.stopReason()));
        ObjectNode out = envelope(id, chat ? "chat.completion" : "text_completion");
        out.putArray("choices").add(choice);
        out.putObject("usage").put("prompt_tokens", g.prompt().size()).put("completion_tokens", g.ids().size())
                .put("total_tokens", g.prompt().size() + g.ids().size());
        send(exchange, 200, out);
    }

    /** Server-sent events: the status is sent before decoding starts, so later failures arrive as an error event. */
    private void stream(HttpExchange exchange, GenerationRequest.Builder request, String id, boolean chat)
            throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        OutputStream out = exchange.getResponseBody();
        CountDownLatch headersSent = new CountDownLatch(1);   // the first piece may come before submit returns
        String object = chat ? "chat.completion.chunk" : "text_completion";
        GenerationListener listener = new GenerationListener() {
            @Override
            public boolean onTokens(TokenIds accepted) {
                return true;
            }

            @Override
            public boolean onText(String piece) {
                try {
                    headersSent.await();
                    event(out, chunk(id, object, chat, piece, null));
                    return true;
                } catch (IOException e) {
                    return false;                                  // the client went away: stop generating
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        };
        CompletableFuture<Generation> future;
        try {
            future = service.submit(request.listener(listener).build());
        } catch (RuntimeException e) {
            fail(exchange, e);
            return;
        }
        try {
            exchange.sendResponseHeaders(200, 0);
        } finally {
            headersSent.countDown();
        }
        try {
            Generation g = future.join();
            if (g.stopReason() == StopReason.CANCELLED) {
                return;
            }
            event(out, chunk(id, object, chat, null, finishReason(g.stopReason())));
        } catch (RuntimeException e) {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            ObjectNode err = JSON.createObjectNode();
            err.putObject("error").put("message", String.valueOf(cause.getMessage())).put("type", "server_error");
            event(out, err);
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private ObjectNode chunk(String id, String object, boolean chat, String piece, String finishReason) {
        ObjectNode choice = JSON.createObjectNode().put("index", 0);
        if (chat) {
            ObjectNode delta = choice.putObject("delta");
            if (piece != null) {
                delta.put("content", piece);
            }
        } else {
            choice.put("text", piece == null ? "" : piece);
        }
        choice.put("finish_reason", finishReason);
        ObjectNode out = envelope(id, object);
        out.putArray("choices").add(choice);
        return out;
    }

    private ObjectNode envelope(String id, String object) {
        return JSON.createObjectNode().put("id", id).put("object", object)
                .put("created", System.currentTimeMillis() / 1000).put("model", modelName);
    }

    private static void event(OutputStream out, JsonNode data) throws IOException {
        out.write(("data: " + JSON.writeValueAsString(data) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    // ------------------------------------------------------------------------------------------------ mapping

    private static String text(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("'" + field + "' must be a string");
        }
        return n.asText();
    }

    private static List<ChatMessage> messages(JsonNode body) {
        JsonNode list = body.get("messages");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new IllegalArgumentException("'messages' must be a non-empty list");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : list) {
            out.add(new ChatMessage(text(m, "role"), text(m, "content")));
        }
        return out;
    }

    /** OpenAI's sampling fields over the model's generation defaults. */
    private GenerationConfig config(JsonNode body) {
        GenerationConfig.Builder b = service.model().generationConfig().toBuilder();
        if (body.hasNonNull("max_tokens")) {
            b.maxNewTokens(body.get("max_tokens").asInt());
        }
        if (body.hasNonNull("temperature")) {
            double t = body.get("temperature").asDouble();
            if (t == 0) {
                b.greedy();
            } else {
                b.sampling(t);
            }
        }
        if (body.hasNonNull("top_p")) {
            b.topP(body.get("top_p").asDouble());
        }
        if (body.hasNonNull("top_k")) {
            b.topK(body.get("top_k").asInt());
        }
        if (body.hasNonNull("seed")) {
            b.seed(body.get("seed").asLong());
        }
        JsonNode stop = body.get("stop");
        if (stop != null && stop.isTextual()) {
            b.stop(stop.asText());
        } else if (stop != null && stop.isArray()) {
            List<String> stops = new ArrayList<>();
            stop.forEach(s -> stops.add(s.asText()));
            b.stopStrings(stops);
        }
        return b.build();
    }

    private static String finishReason(StopReason reason) {
        return switch (reason) {
            case MAX_NEW_TOKENS, CONTEXT_LIMIT -> "length";
            default -> "stop";
        };
    }

    private static void fail(HttpExchange exchange, RuntimeException e) throws IOException {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof RequestRejectedException r) {
            boolean down = r.limit() == RequestRejectedException.Limit.SHUT_DOWN;
            error(exchange, down ? 503 : 429, down ? "server_error" : "rate_limit_error", r.getMessage());
        } else if (cause instanceof RequestAbortedException a) {
            boolean timeout = a.reason() == RequestAbortedException.Reason.TIMEOUT;
            error(exchange, timeout ? 504 : 503, "server_error", a.getMessage());
        } else if (cause instanceof IllegalArgumentException || cause instanceof IllegalStateException) {
            error(exchange, 400, "invalid_request_error", cause.getMessage());
        } else {
            error(exchange, 500, "server_error", String.valueOf(cause.getMessage()));
        }
    }

    private static void error(HttpExchange exchange, int status, String type, String message) throws IOException {
        ObjectNode out = JSON.createObjectNode();
        out.putObject("error").put("message", message).put("type", type);
        send(exchange, status, out);
    }

    private static void send(HttpExchange exchange, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }
}
