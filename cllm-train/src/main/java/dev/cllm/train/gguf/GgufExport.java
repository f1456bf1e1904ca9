package dev.cllm.train.gguf;

import java.nio.file.Path;

/**
 * What {@link GgufExporter#export} wrote.
 *
 * @param file           the GGUF file
 * @param architecture   {@code general.architecture}: {@code llama} (LLaMA and Mistral) or {@code qwen2}
 * @param type           how the weight matrices are stored
 * @param tensors        tensors written
 * @param quantized      of those, tensors stored as Q8_0 (0 for F16)
 * @param fileBytes      size of the file
 * @param vocabulary     where the tokenizer section came from
 * @param tokenizerModel {@code tokenizer.ggml.model}: {@code llama}, {@code gpt2} or {@code t5}
 * @param vocabSize      tokens in {@code tokenizer.ggml.tokens} (the model's vocabulary size)
 */
public record GgufExport(Path file, String architecture, GgufType type, int tensors, int quantized, long fileBytes,
                         Vocabulary vocabulary, String tokenizerModel, int vocabSize) {

    /** The source of the tokenizer section; {@link GgufExporter} documents what each writes. */
    public enum Vocabulary {
        /** tokenizer.json, byte-level BPE (GPT-2 style: Qwen2, LLaMA 3): {@code gpt2}. */
        BYTE_LEVEL_BPE,
        /** tokenizer.json, BPE with byte fallback (SentencePiece style: LLaMA 1/2, Mistral): {@code llama}. */
        SENTENCEPIECE_BPE,
        /** tokenizer.json, a word-level model (our SQL models): {@code t5} (unigram) over whole words. */
        WORD_LEVEL,
        /** no tokenizer: one synthetic token per id, {@code t5}. */
        SYNTHETIC
    }
}
