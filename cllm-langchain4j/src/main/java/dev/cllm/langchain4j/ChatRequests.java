package dev.cllm.langchain4j;

import dev.cllm.api.ChatMessage;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.serve.GenerationRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;

import java.util.ArrayList;
import java.util.List;

/**
 * Maps LangChain4j's chat requests to the service's {@link GenerationRequest}s and generations back to its
 * {@link ChatResponse}s: system, user and assistant text messages; temperature (0 is greedy), top_p, top_k, the two
 * penalties, max output tokens and stop sequences over a base {@link GenerationConfig}. Tools, JSON response formats
 * and non-text content are unsupported ({@link UnsupportedFeatureException}).
 */
final class ChatRequests {
    private ChatRequests() {
    }

    /** The service request for {@code request}: its messages as chat, its parameters over {@code base}. */
    static GenerationRequest toGeneration(ChatRequest request, GenerationConfig base, GenerationListener listener) {
        if (request.toolSpecifications() != null && !request.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("cllm does not support tools (got "
                    + request.toolSpecifications().size() + " tool specifications)");
        }
        ResponseFormat format = request.responseFormat();
        if (format != null && !format.equals(ResponseFormat.TEXT)) {
            throw new UnsupportedFeatureException("cllm supports only the TEXT response format, got " + format);
        }
        return GenerationRequest.chat(messages(request.messages())).config(config(request, base)).listener(listener)
                .build();
    }

    static List<ChatMessage> messages(List<dev.langchain4j.data.message.ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (dev.langchain4j.data.message.ChatMessage m : messages) {
            if (m instanceof SystemMessage s) {
                out.add(ChatMessage.system(s.text()));
            } else if (m instanceof UserMessage u) {
                if (!u.hasSingleText()) {
                    throw new UnsupportedFeatureException("cllm supports only text user messages, got " + u);
                }
                out.add(ChatMessage.user(u.singleText()));
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException("cllm does not support tools (an AI message asks to run "
                            + "tools)");
                }
                out.add(ChatMessage.assistant(a.text() == null ? "" : a.text()));
            } else {
                throw new UnsupportedFeatureException("cllm does not support " + m.type() + " messages");
            }
        }
        return out;
    }

    static GenerationConfig config(ChatRequest request, GenerationConfig base) {
        GenerationConfig.Builder b = base.toBuilder();
        if (request.temperature() != null) {
            if (request.temperature() == 0) {
                b.greedy();
            } else {
                b.sampling(request.temperature());
            }
        }
        if (request.topP() != null) {
            b.topP(request.topP());
        }
        if (request.topK() != null) {
            b.topK(request.topK());
        }
        if (request.presencePenalty() != null) {
            b.presencePenalty(request.presencePenalty());
        }
        if (request.frequencyPenalty() != null) {
            b.frequencyPenalty(request.frequencyPenalty());
        }
        if (request.maxOutputTokens() != null) {
            b.maxNewTokens(request.maxOutputTokens());
        }
        if (request.stopSequences() != null && !request.stopSequences().isEmpty()) {
            b.stopStrings(request.stopSequences());
        }
        return b.build();
    }

    static ChatResponse toResponse(Generation g, String modelName) {
        FinishReason finish = switch (g.stopReason()) {
            case STOP_TOKEN, STOP_STRING -> FinishReason.STOP;
            case MAX_NEW_TOKENS, CONTEXT_LIMIT -> FinishReason.LENGTH;
            default -> FinishReason.OTHER;
        };
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(g.text() == null ? "" : g.text()))
                .modelName(modelName)
                .tokenUsage(new TokenUsage(g.prompt().size(), g.ids().size()))
                .finishReason(finish)
                .build();
    }
}
