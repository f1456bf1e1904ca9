/**
 * The interfaces every part of cllm-java speaks: a {@link dev.cllm.api.ConsistencyModel} that opens
 * {@link dev.cllm.api.DecodingSession}s (one KV cache each), a {@link dev.cllm.api.Tokenizer}, a
 * {@link dev.cllm.api.Decoder}, and the value types a generation returns.
 *
 * <p>Only Java primitives and these types cross this boundary: no tensor library appears here, so decoding
 * loops can be written and tested against fake models in milliseconds.
 */
package dev.cllm.api;
