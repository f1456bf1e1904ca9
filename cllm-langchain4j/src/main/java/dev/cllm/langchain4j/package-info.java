/**
 * LangChain4j's {@code ChatModel} and {@code StreamingChatModel} over a cllm
 * {@link dev.cllm.serve.GenerationService}: {@link dev.cllm.langchain4j.CllmChatModel} and
 * {@link dev.cllm.langchain4j.CllmStreamingChatModel}. Concurrent calls share the service's batched steps.
 */
package dev.cllm.langchain4j;
