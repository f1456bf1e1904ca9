package dev.cllm.langchain4j;

import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.serve.GenerationService;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * LangChain4j's {@link StreamingChatModel} over a {@link GenerationService}: the reply's text reaches
 * {@link StreamingChatResponseHandler#onPartialResponse(String)} as the service's decoder accepts tokens (on a worker
 * thread of the service), then the full response {@link StreamingChatResponseHandler#onCompleteResponse}, or
 * {@link StreamingChatResponseHandler#onError} once with what failed (a rejection included). Returns at once.
 *
 * <p>Messages and parameters map as in {@link CllmChatModel}. Thread-safe; the service stays the caller's.
 */
public final class CllmStreamingChatModel implements StreamingChatModel {
    private final GenerationService service;
    private final GenerationConfig defaults;
    private final String modelName;

    private CllmStreamingChatModel(GenerationService service, GenerationConfig defaults, String modelName) {
        this.service = service;
        this.defaults = defaults != null ? defaults : service.model().generationConfig();
        this.modelName = modelName;
    }

    /** A streaming chat model over {@code service} (borrowed) with the model's generation defaults. */
    public static CllmStreamingChatModel of(GenerationService service) {
        return new CllmStreamingChatModel(Objects.requireNonNull(service, "service"), null, "cllm");
    }

    /** A streaming chat model whose requests' parameters apply over {@code defaults}, named {@code modelName}. */
    public static CllmStreamingChatModel of(GenerationService service, GenerationConfig defaults, String modelName) {
        return new CllmStreamingChatModel(Objects.requireNonNull(service, "service"),
                Objects.requireNonNull(defaults, "defaults"), Objects.requireNonNull(modelName, "modelName"));
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        GenerationListener listener = GenerationListener.text(piece -> {
            if (!piece.isEmpty()) {
                handler.onPartialResponse(piece);
            }
        });
        CompletableFuture<dev.cllm.api.Generation> future;
        try {
            future = service.submit(ChatRequests.toGeneration(request, defaults, listener));
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        future.whenComplete((g, error) -> {
            if (error != null) {
                handler.onError(error instanceof CompletionException && error.getCause() != null
                        ? error.getCause() : error);
            } else {
                handler.onCompleteResponse(ChatRequests.toResponse(g, modelName));
            }
        });
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    @Override
    public String toString() {
        return "CllmStreamingChatModel[" + modelName + ", " + service + "]";
    }
}
