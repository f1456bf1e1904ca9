/**
 * GGUF export: a checkpoint trained here, written as a GGUF v3 file that llama.cpp (and what is built on it) runs.
 *
 * <p>{@link dev.cllm.train.gguf.GgufExporter} maps a LLaMA, Mistral or Qwen2 checkpoint (config.json, safetensors,
 * tokenizer.json) to llama.cpp's tensor names, layouts and metadata, with weights as F16 or Q8_0
 * ({@link dev.cllm.train.gguf.GgufType}), in pure Java and bounded memory.
 */
package dev.cllm.train.gguf;
