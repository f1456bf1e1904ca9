package dev.cllm.langchain4j;

import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.serve.GenerationService;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

import java.util.Objects;
import java.util.concurrent.CompletionException;

/**
 * LangChain4j's {@link ChatModel} over a {@link GenerationService}: an application on LangChain4j swaps its model for
 * a local CLLM with one bean.
 *
 * <pre>{@code
 * ChatModel chat = CllmChatModel.builder(service).build();
 * String answer = chat.chat("Name three prime numbers.");
 * }</pre>
 *
 * <p>Messages are rendered with the checkpoint's chat template (a checkpoint without one takes a single user message as
 * a plain prompt). Request parameters apply over {@link Builder#defaults} (default: the model's
 * {@code generationConfig()}); temperature 0 is greedy. Thread-safe: concurrent calls are batched by the service. The
 * service stays the caller's.
 */
public final class CllmChatModel implements ChatModel {
    private final GenerationService service;
    private final GenerationConfig defaults;
    private final String modelName;

    private CllmChatModel(Builder b) {
        this.service = b.service;
        this.defaults = b.defaults != null ? b.defaults : b.service.model().generationConfig();
        this.modelName = b.modelName;
    }

    /** A chat model over {@code service} (borrowed). */
    public static Builder builder(GenerationService service) {
        return new Builder(service);
    }

    /**
     * Generates the reply, blocking until it is complete.
     *
     * @throws dev.langchain4j.exception.UnsupportedFeatureException for tools, JSON formats or non-text content
     * @throws dev.cllm.serve.RequestRejectedException                when the service rejects the request
     * @throws RuntimeException                                       what the generation failed with
     */
    @Override
    public ChatResponse doChat(ChatRequest request) {
        try {
            Generation g = service.submit(ChatRequests.toGeneration(request, defaults, GenerationListener.NONE)).join();
            return ChatRequests.toResponse(g, modelName);
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    @Override
    public String toString() {
        return "CllmChatModel[" + modelName + ", " + service + "]";
    }

    /** Configures a {@link CllmChatModel}. */
    public static final class Builder {
        private final GenerationService service;
        private GenerationConfig defaults;
        private String modelName = "cllm";

        private Builder(GenerationService service) {
            this.service = Objects.requireNonNull(service, "service");
        }

        /** The generation settings requests' parameters apply over (default: the model's generationConfig()). */
        public Builder defaults(GenerationConfig value) {
            this.defaults = Objects.requireNonNull(value, "defaults");
            return this;
        }

        /** The model name responses carry (default {@code cllm}). */
        public Builder modelName(String value) {
            this.modelName = Objects.requireNonNull(value, "modelName");
            return this;
        }

        public CllmChatModel build() {
            return new CllmChatModel(this);
        }
    }
}
