/**
 * LLaMA-family models on libtorch (Bytedeco's JavaCPP presets for PyTorch): Hugging Face checkpoints in, KV-cache
 * decoding sessions out.
 *
 * <p>Entry point: {@link dev.cllm.torch.TorchConsistencyModel#load}. This is the only module that touches tensors;
 * everything above it sees token ids. Native memory has three owners: the model (weights), a session (its KV cache)
 * and one {@code PointerScope} per forward pass (temporaries). The model outlives its sessions: closing it waits for
 * the passes in flight and closes them.
 *
 * <p>The model in three parts: {@code LlamaConfig} (the architecture, a value; {@code LlamaConfigJson} maps it to
 * {@code config.json}), {@code LlamaLoader} (checks a checkpoint and fixes the weight layout once, into
 * {@code LlamaWeights}) and {@code LlamaModel} (the forward pass). {@code TorchRuntime} holds the process-wide
 * settings: native libraries, thread pools, JavaCPP's memory check.
 *
 * <p>A checkpoint's chat template ({@code tokenizer_config.json}'s {@code chat_template}) comes with its tokenizer
 * ({@link dev.cllm.api.Tokenizer#chatTemplate()}), rendered by {@link dev.cllm.torch.JinjaChatTemplate} as Hugging
 * Face transformers renders it.
 */
package dev.cllm.torch;
