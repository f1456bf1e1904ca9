package dev.cllm.train.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import de.kherud.llama.args.CacheType;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.HfTokenizer;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tokenizer sections of BPE tokenizer.json files, checked in llama.cpp: on texts with words, spaces, digits,
 * newlines and non-ASCII letters, llama.cpp's tokenizer on our export gives the ids our tokenizer (Hugging Face
 * tokenizers through DJL) gives. Tiny tokenizers built here: byte-level BPE with Qwen2's pre-tokenizer, and
 * SentencePiece-style BPE with byte fallback.
 */
class GgufTokenizerLlamaCppTest {
    private static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final List<String> TEXTS = List.of("the cat sat on the mat", "then the theme",
            "  two  spaces and\nnew lines\n\n", "numbers 123 4567", "na\u00efve caf\u00e9 \u00fcber", "it's THE end.");
    /** Merges (in rank order) for words of the texts; unmerged text falls back to bytes (pieces or byte tokens). */
    private static final List<String[]> MERGES = List.of(new String[]{"t", "h"}, new String[]{"th", "e"},
            new String[]{"a", "t"}, new String[]{"e", "n"}, new String[]{"m", "e"}, new String[]{"c", "at"},
            new String[]{"s", "at"}, new String[]{"o", "n"}, new String[]{"m", "at"}, new String[]{"the", "n"},
            new String[]{"the", "me"}, new String[]{"1", "2"});
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void byteLevelBpeTokenizesAsOurs() throws IOException {
        // GPT-2's byte-to-unicode table: printable Latin-1 maps to itself, the other bytes to U+0100 onwards
        List<String> byteChars = new ArrayList<>();
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            byteChars.add(String.valueOf((char) (printable ? b : next++)));
        }
        String space = byteChars.get(' ');
        Map<String, Integer> vocab = new LinkedHashMap<>();
        byteChars.forEach(c -> vocab.put(c, vocab.size()));
        List<String[]> merges = new ArrayList<>(MERGES);
        merges.add(new String[]{space, "the"});
        merges.add(new String[]{space, "cat"});
        merges.add(new String[]{space, space});
        merges.forEach(m -> vocab.putIfAbsent(m[0] + m[1], vocab.size()));
        int eos = vocab.size();
        ObjectNode tj = tokenizerJson();
        addedToken(tj.withArray("added_tokens"), eos, "<|endoftext|>");
        ArrayNode pre = tj.putObject("pre_tokenizer").put("type", "Sequence").putArray("pretokenizers");
        pre.addObject().put("type", "Split").put("behavior", "Isolated").put("invert", false)
                .putObject("pattern").put("Regex", QWEN2_REGEX);
        pre.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false)
                .put("use_regex", false);
        tj.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false)
                .put("use_regex", false);
        ObjectNode model = bpe(tj, vocab, merges);
        model.put("byte_fallback", false);
        Path dir = tinyModel(vocab.size() + 1);
        write(dir, tj, "{\"eos_token\": \"<|endoftext|>\", \"add_bos_token\": false}");
        assertSameIds(dir, GgufExport.Vocabulary.BYTE_LEVEL_BPE);
    }

    @Test
    void sentencePieceBpeWithByteFallbackTokenizesAsOurs() throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("<unk>", 0);
        vocab.put("<s>", 1);
        vocab.put("</s>", 2);
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), vocab.size());
        }
        String sp = GgufVocabulary.SPACE;
        for (String c : List.of(sp, "t", "h", "e", "a", "c", "s", "o", "n", "m", "1", "2", "i", "'", ".", "T", "E")) {
            vocab.put(c, vocab.size());
        }
        List<String[]> merges = new ArrayList<>(MERGES);
        merges.add(new String[]{sp, "the"});
        merges.add(new String[]{sp, "cat"});
        merges.add(new String[]{sp, "t"});
        merges.add(new String[]{sp, sp});
        merges.forEach(m -> vocab.putIfAbsent(m[0] + m[1], vocab.size()));
        ObjectNode tj = tokenizerJson();
        ArrayNode added = tj.withArray("added_tokens");
        for (String special : List.of("<unk>", "<s>", "</s>")) {
            addedToken(added, vocab.get(special), special);
        }
        ArrayNode norm = tj.putObject("normalizer").put("type", "Sequence").putArray("normalizers");
        norm.addObject().put("type", "Prepend").put("prepend", sp);
        norm.addObject().put("type", "Replace").put("content", sp).putObject("pattern").put("String", " ");
        tj.set("post_processor", JSON.readTree("""
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                          {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}"""));
        ArrayNode dec = tj.putObject("decoder").put("type", "Sequence").putArray("decoders");
        dec.addObject().put("type", "Replace").put("content", " ").putObject("pattern").put("String", sp);
        dec.addObject().put("type", "ByteFallback");
        dec.addObject().put("type", "Fuse");
        ObjectNode model = bpe(tj, vocab, merges);
        model.put("byte_fallback", true).put("unk_token", "<unk>").put("fuse_unk", true);
        Path dir = tinyModel(vocab.size());
        write(dir, tj, "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\"}");
        assertSameIds(dir, GgufExport.Vocabulary.SENTENCEPIECE_BPE);
    }

    private void assertSameIds(Path dir, GgufExport.Vocabulary expected) throws IOException {
        Path gguf = tmp.resolve("t.gguf");
        assertThat(GgufExporter.export(dir, gguf, GgufType.F32).vocabulary()).isEqualTo(expected);
        try (HfTokenizer ours = HfTokenizer.open(dir.resolve("tokenizer.json"));
             LlamaCpp llama = LlamaCpp.load(gguf, 1, 64, CacheType.F16)) {
            for (String text : TEXTS) {
                int[] want = ours.encodeWithoutSpecialTokens(text);
                System.out.printf("%s %s: %s%n", expected, text.replace("\n", "\\n"), java.util.Arrays.toString(want));
                assertThat(llama.encode(text)).as(text).containsExactly(want);
            }
        }
    }

    /** The top-level fields Hugging Face tokenizers requires, in its order. */
    private static ObjectNode tokenizerJson() {
        ObjectNode tj = JSON.createObjectNode().put("version", "1.0");
        tj.putNull("truncation");
        tj.putNull("padding");
        tj.putArray("added_tokens");
        tj.putNull("normalizer");
        tj.putNull("pre_tokenizer");
        tj.putNull("post_processor");
        tj.putNull("decoder");
        return tj;
    }

    private static void addedToken(ArrayNode added, int id, String content) {
        added.addObject().put("id", id).put("content", content).put("single_word", false).put("lstrip", false)
                .put("rstrip", false).put("normalized", false).put("special", true);
    }

    private static ObjectNode bpe(ObjectNode tj, Map<String, Integer> vocab, List<String[]> merges) {
        ObjectNode model = tj.putObject("model").put("type", "BPE").put("ignore_merges", false)
                .put("fuse_unk", false).put("byte_fallback", false);
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        merges.forEach(pair -> m.addArray().add(pair[0]).add(pair[1]));
        return model;
    }

    private Path tinyModel(int vocabSize) {
        return new TinyCheckpoints.Variant("tok", TinyCheckpoints.base().vocabSize(vocabSize).build(),
                ComputeDtype.F32, Long.MAX_VALUE).write(tmp.resolve("model"), 1);
    }

    private static void write(Path dir, ObjectNode tokenizerJson, String tokenizerConfig) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(tokenizerJson),
                StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("tokenizer_config.json"), tokenizerConfig);
    }
}
