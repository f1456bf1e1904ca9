package dev.cllm.langchain4j;

import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.serve.GenerationService;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.RepositoryModels;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The adapters through LangChain4j's own API on the embedded SQL model ({@code models/sql-base}: a word-level
 * tokenizer, no chat template, so a chat is a single user message taken as the prompt): concurrent
 * {@link ChatModel#chat(String)} calls answer what decoding each question alone gives, streaming delivers the same
 * text in pieces, and what cllm cannot do fails with a clear error.
 */
class CllmChatModelTest {
    private static TorchConsistencyModel model;
    private static GenerationService service;
    private static List<String> questions;

    @BeforeAll
    static void start() throws IOException {
        Path dir = RepositoryModels.checkpoint("sql-base");
        questions = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("bench-prompts.jsonl")).subList(0, 6)) {
            int from = line.indexOf("\"prompt\":\"") + "\"prompt\":\"".length();
            questions.add(line.substring(from, line.indexOf('"', from)));
        }
        model = TorchConsistencyModel.load(dir, TorchOptions.defaults().withDevice("cpu"));
        service = GenerationService.builder(model).build();
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.close();
        }
        if (model != null) {
            model.close();
        }
    }

    static Generation alone(String question, GenerationConfig config) {
        return service.decoder().generate(model, question, config, GenerationListener.NONE);
    }

    @Test
    void concurrentChatCallsAnswerWhatDecodingAloneGives() throws Exception {
        ChatModel chat = CllmChatModel.builder(service).modelName("sql-base").build();
        ExecutorService callers = Executors.newFixedThreadPool(questions.size());
        try {
            List<CompletableFuture<ChatResponse>> answers = new ArrayList<>();
            for (String q : questions) {
                answers.add(CompletableFuture.supplyAsync(() -> chat.chat(ChatRequest.builder()
                        .messages(UserMessage.from(q)).build()), callers));
            }
            for (int i = 0; i < questions.size(); i++) {
                ChatResponse r = answers.get(i).get(120, TimeUnit.SECONDS);
                Generation expected = alone(questions.get(i), model.generationConfig());
                assertThat(r.aiMessage().text()).as("question %d", i).isEqualTo(expected.text()).startsWith("SELECT");
                assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
                assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(expected.prompt().size());
                assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(expected.ids().size());
                assertThat(r.modelName()).isEqualTo("sql-base");
            }
        } finally {
            callers.shutdown();
        }
        assertThat(chat.chat(questions.get(0))).as("the String convenience").isEqualTo(
                alone(questions.get(0), model.generationConfig()).text());
    }

    @Test
    void requestParametersApplyOverTheModelsDefaults() {
        ChatModel chat = CllmChatModel.builder(service).build();
        ChatResponse r = chat.chat(ChatRequest.builder().messages(UserMessage.from(questions.get(1)))
                .temperature(0.0).maxOutputTokens(3).build());
        Generation expected = alone(questions.get(1), model.generationConfig().toBuilder().maxNewTokens(3).build());
        assertThat(r.aiMessage().text()).isEqualTo(expected.text());
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(3);
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    @Test
    void streamingDeliversTheSameTextInPieces() throws Exception {
        StreamingChatModel streaming = CllmStreamingChatModel.of(service);
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(questions.get(2), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                pieces.add(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(120, TimeUnit.SECONDS);
        String expected = alone(questions.get(2), model.generationConfig()).text();
        assertThat(r.aiMessage().text()).isEqualTo(expected);
        assertThat(pieces).hasSizeGreaterThan(1);
        assertThat(String.join("", pieces)).isEqualTo(expected);
    }

    @Test
    void whatCllmCannotDoFailsWithAClearError() throws Exception {
        ChatModel chat = CllmChatModel.builder(service).build();
        assertThatThrownBy(() -> chat.chat(ChatRequest.builder().messages(UserMessage.from(questions.get(0)))
                .toolSpecifications(ToolSpecification.builder().name("lookup").build()).build()))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("tools");
        assertThatThrownBy(() -> chat.chat(SystemMessage.from("Answer in SQL."), UserMessage.from(questions.get(0))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no chat template");

        CompletableFuture<Throwable> error = new CompletableFuture<>();
        CllmStreamingChatModel.of(service).chat(List.of(SystemMessage.from("x"), UserMessage.from("y")),
                new StreamingChatResponseHandler() {
                    @Override
                    public void onCompleteResponse(ChatResponse response) {
                        error.complete(null);
                    }

                    @Override
                    public void onError(Throwable e) {
                        error.complete(e);
                    }
                });
        assertThat(error.get(60, TimeUnit.SECONDS)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no chat template");
    }
}
