/**
 * Serving many clients over HTTP: an OpenAI-style {@code /v1/completions} and {@code /v1/chat/completions} endpoint
 * with server-sent-event streaming over cllm-serve's {@link dev.cllm.serve.GenerationService}.
 */
package dev.cllm.examples.serve;
