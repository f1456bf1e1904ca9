package dev.cllm.train.gguf;

import dev.cllm.api.CheckpointException;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The tokenizer section for each kind of checkpoint tokenizer. */
class GgufVocabularyTest {
    private static final LlamaConfig TINY = LlamaConfig.builder().vocabSize(12).hiddenSize(8).intermediateSize(8)
            .numLayers(1).numHeads(2).maxPositions(16).bosTokenId(1).eosTokenIds(Set.of(2)).build();

    @TempDir
    Path tmp;

    @Test
    void wordLevelSqlTokenizerBecomesWholeWordUnigram() {
        Path dir = GgufLlamaCppTest.sqlBase();
        GgufVocabulary v = GgufVocabulary.read(dir, LlamaConfig.read(dir.resolve("config.json")));
        assertThat(v.source).isEqualTo(GgufExport.Vocabulary.WORD_LEVEL);
        assertThat(v.model).isEqualTo("t5");
        assertThat(v.tokens).hasSize(329);
        assertThat(v.tokens.subList(0, 4)).containsExactly("<pad>", "<s>", "</s>", "<unk>");
        assertThat(v.types[0]).isEqualTo(GgufVocabulary.CONTROL);
        assertThat(v.types[3]).isEqualTo(GgufVocabulary.UNKNOWN);
        assertThat(v.tokens.get(4)).isEqualTo("\u25810");                 // the digit 0
        assertThat(v.tokens.get(14)).isEqualTo("'");                      // ##': glued to the word before
        assertThat(v.tokens.get(15)).isEqualTo("\u2581'");
        assertThat(v.tokens).contains("\u2581SELECT", "\u2581airport_id");
        assertThat(v.bos).isEqualTo(1);
        assertThat(v.eos).isEqualTo(2);
        assertThat(v.unk).isEqualTo(3);
        assertThat(v.pad).isEqualTo(0);
        assertThat(v.addBos).isTrue();
        assertThat(v.addEos).isFalse();
        assertThat(v.addSpacePrefix).isTrue();
    }

    @Test
    void idOnlyCheckpointGetsSyntheticDecimalTokens() {
        Path dir = Stories260K.dir();
        GgufVocabulary v = GgufVocabulary.read(dir, LlamaConfig.read(dir.resolve("config.json")));
        assertThat(v.source).isEqualTo(GgufExport.Vocabulary.SYNTHETIC);
        assertThat(v.model).isEqualTo("t5");
        assertThat(v.tokens).hasSize(512);
        assertThat(v.tokens.subList(0, 4)).containsExactly("<unk>", "<s>", "</s>", "\u25813");
        assertThat(v.tokens.get(511)).isEqualTo("\u2581511");
        assertThat(v.types).startsWith(GgufVocabulary.UNKNOWN, GgufVocabulary.CONTROL, GgufVocabulary.CONTROL,
                GgufVocabulary.NORMAL);
        assertThat(v.bos).isEqualTo(1);
        assertThat(v.eos).isEqualTo(2);
        assertThat(v.unk).isEqualTo(0);
        assertThat(v.addBos).isTrue();
    }

    @Test
    void byteLevelBpeKeepsVocabularyAndMergesAndNamesThePreTokenizer() throws IOException {
        Files.writeString(tmp.resolve("tokenizer.json"), """
                {"added_tokens": [{"id": 10, "content": "<|endoftext|>", "special": true},
                                  {"id": 11, "content": "<tool>", "special": false}],
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                   {"type": "Split", "pattern": {"Regex": "%s"}, "behavior": "Isolated"},
                   {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
                 "model": {"type": "BPE", "byte_fallback": false,
                   "vocab": {"a": 0, "b": 1, "ab": 2, "\\u0120": 3, "\\u0120ab": 4},
                   "merges": [["a", "b"], "\\u0120 ab"]}}
                """.formatted(("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
                + "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+").replace("\\", "\\\\")));
        Files.writeString(tmp.resolve("tokenizer_config.json"), """
                {"eos_token": "<|endoftext|>", "bos_token": null, "pad_token": "<|endoftext|>"}""");
        GgufVocabulary v = GgufVocabulary.read(tmp, TINY.toBuilder().bosTokenId(-1).eosTokenIds(Set.of()).build());
        assertThat(v.source).isEqualTo(GgufExport.Vocabulary.BYTE_LEVEL_BPE);
        assertThat(v.model).isEqualTo("gpt2");
        assertThat(v.pre).isEqualTo("qwen2");
        assertThat(v.merges).containsExactly("a b", "\u0120 ab");
        assertThat(v.tokens).containsExactly("a", "b", "ab", "\u0120", "\u0120ab", "[PAD5]", "[PAD6]", "[PAD7]",
                "[PAD8]", "[PAD9]", "<|endoftext|>", "<tool>");
        assertThat(v.types).containsExactly(1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 3, 4);
        assertThat(v.scores).isNull();
        assertThat(v.eos).isEqualTo(10);
        assertThat(v.pad).isEqualTo(10);
        assertThat(v.bos).isEqualTo(-1);
        assertThat(v.addBos).isFalse();
    }

    @Test
    void sentencePieceBpeScoresFollowTheMergeOrder() throws IOException {
        Files.writeString(tmp.resolve("tokenizer.json"), """
                {"added_tokens": [{"id": 0, "content": "<unk>", "special": true},
                                  {"id": 1, "content": "<s>", "special": true},
                                  {"id": 2, "content": "</s>", "special": true}],
                 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\\u2581"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "\\u2581"}]},
                 "post_processor": {"type": "TemplateProcessing", "single": [
                   {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
                 "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
                   "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "\\u2581": 4, "a": 5, "b": 6,
                             "\\u2581a": 7, "ab": 8, "\\u2581ab": 9, "c": 10, "zz": 11},
                   "merges": ["\\u2581 a", "a b", "\\u2581a b"]}}
                """);
        GgufVocabulary v = GgufVocabulary.read(tmp, TINY);
        assertThat(v.source).isEqualTo(GgufExport.Vocabulary.SENTENCEPIECE_BPE);
        assertThat(v.model).isEqualTo("llama");
        assertThat(v.types).containsExactly(2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1);
        assertThat(v.scores[7]).isEqualTo(0f);      // first merge
        assertThat(v.scores[8]).isEqualTo(-1f);
        assertThat(v.scores[9]).isEqualTo(-2f);
        assertThat(v.scores[11]).isEqualTo(-(3f + 11)); // no merge forms it: below every merge
        assertThat(v.unk).isEqualTo(0);
        assertThat(v.bos).isEqualTo(1);
        assertThat(v.addBos).isTrue();
        assertThat(v.addSpacePrefix).isTrue();
    }

    @Test
    void unsupportedTokenizersAreRefusedNamingTheFile() throws IOException {
        Files.writeString(tmp.resolve("tokenizer.json"), """
                {"model": {"type": "Unigram", "vocab": [["a", -1.0]]}}""");
        assertThatThrownBy(() -> GgufVocabulary.read(tmp, TINY)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tokenizer.json").hasMessageContaining("Unigram");
        Files.writeString(tmp.resolve("tokenizer.json"), """
                {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\\\w+"}},
                 "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
        assertThatThrownBy(() -> GgufVocabulary.read(tmp, TINY)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tokenizer.json").hasMessageContaining("pre-tokenizer");
        Files.writeString(tmp.resolve("tokenizer.json"), """
                {"model": {"type": "WordLevel", "vocab": {"a": 0, "b": 12}}}""");
        assertThatThrownBy(() -> GgufVocabulary.read(tmp, TINY)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("'b' has id 12").hasMessageContaining("vocabulary of 12");
        Files.delete(tmp.resolve("tokenizer.json"));
        Files.writeString(tmp.resolve("tokenizer.model"), "x");
        assertThatThrownBy(() -> GgufVocabulary.read(tmp, TINY)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tokenizer.model");
    }
}
