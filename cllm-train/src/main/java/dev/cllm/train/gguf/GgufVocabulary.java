package dev.cllm.train.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.CheckpointException;
import dev.cllm.torch.LlamaConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The {@code tokenizer.ggml.*} section of a GGUF export, built from a checkpoint's {@code tokenizer.json} (and
 * {@code tokenizer_config.json}) or, for an id-only checkpoint, synthesized. {@link GgufExporter} documents the cases.
 *
 * <p>Every case writes one token per model id ({@code vocab_size} of config.json; ids the tokenizer lacks become
 * {@code [PAD<id>]} of type UNUSED), a token type per id, and the BOS, EOS, unknown and padding ids it knows.
 */
final class GgufVocabulary {
    /** llama.cpp's token types (llama.h's {@code llama_token_type}). */
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    /** SentencePiece's escaped space, U+2581: a word-initial token starts with it. */
    static final String SPACE = "\u2581";
    /** Score of a whole-word token in the unigram vocabularies: any equal negative score prefers fewer tokens. */
    static final float WORD_SCORE = -1f;

    /** Pre-tokenizer regexes of tokenizer.json and the {@code tokenizer.ggml.pre} llama.cpp names them by. */
    private static final Map<String, String> PRE_TOKENIZERS = Map.of(
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "qwen2",
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "llama-bpe");
    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-Fa-f]{2}>");
    private static final ObjectMapper JSON = new ObjectMapper();

    final GgufExport.Vocabulary source;
    final String model;
    final String pre;               // null: not written
    final List<String> tokens;
    final int[] types;
    final float[] scores;           // null: not written
    final List<String> merges;      // empty: not written
    final int bos, eos, unk, pad;   // -1: not written
    final boolean addBos, addEos;
    final Boolean addSpacePrefix;   // null: not written
    final String chatTemplate;      // null: not written

    private GgufVocabulary(Builder b) {
        this.source = b.source;
        this.model = b.model;
        this.pre = b.pre;
        this.tokens = List.copyOf(Arrays.asList(b.tokens));
        this.types = b.types;
        this.scores = b.scores;
        this.merges = List.copyOf(b.merges);
        this.bos = b.bos;
        this.eos = b.eos;
        this.unk = b.unk;
        this.pad = b.pad;
        this.addBos = b.addBos;
        this.addEos = b.addEos;
        this.addSpacePrefix = b.addSpacePrefix;
        this.chatTemplate = b.chatTemplate;
    }

    /**
     * Reads {@code dir/tokenizer.json} (and {@code tokenizer_config.json} if present), or synthesizes a vocabulary
     * when neither it nor a SentencePiece {@code tokenizer.model} exists.
     *
     * @throws CheckpointException naming the file and what it cannot map
     */
    static GgufVocabulary read(Path dir, LlamaConfig config) {
        Path tokenizerJson = dir.resolve("tokenizer.json");
        Path tokenizerConfig = dir.resolve("tokenizer_config.json");
        JsonNode tc = Files.isRegularFile(tokenizerConfig) ? readJson(tokenizerConfig) : JSON.createObjectNode();
        if (!Files.isRegularFile(tokenizerJson)) {
            if (Files.exists(dir.resolve("tokenizer.model"))) {
                throw new CheckpointException(dir.resolve("tokenizer.model") + ": a SentencePiece model without "
                        + "tokenizer.json; GGUF export reads tokenizer.json only");
            }
            return synthetic(config);
        }
        JsonNode tj = readJson(tokenizerJson);
        JsonNode m = tj.path("model");
        String type = m.path("type").asText("");
        Builder b = new Builder(config.vocabSize(), tokenizerJson);
        b.tokenizerJson = tj;
        switch (type) {
            case "WordLevel" -> wordLevel(b, tj);
            case "BPE" -> {
                if (m.path("byte_fallback").asBoolean(false)) {
                    sentencePieceBpe(b, tj);
                } else {
                    byteLevelBpe(b, tj);
                }
            }
            default -> throw new CheckpointException(tokenizerJson + ": tokenizer model type '" + type
                    + "' is not supported for GGUF export (supported: BPE, WordLevel)");
        }
        b.specials(tj, tc, config);
        JsonNode template = tc.get("chat_template");
        if (template != null && template.isTextual()) {
            b.chatTemplate = template.textValue();
        } else if (template != null && template.isArray()) {
            for (JsonNode t : template) {
                if (t.path("name").asText("").equals("default")) {
                    b.chatTemplate = t.path("template").asText(null);
                }
            }
        }
        return b.build();
    }

    /** Writes the section's keys. */
    void writeTo(GgufWriter w) {
        w.putString("tokenizer.ggml.model", model);
        if (pre != null) {
            w.putString("tokenizer.ggml.pre", pre);
        }
        w.putStrings("tokenizer.ggml.tokens", tokens);
        if (scores != null) {
            w.putF32s("tokenizer.ggml.scores", scores);
        }
        w.putI32s("tokenizer.ggml.token_type", types);
        if (!merges.isEmpty()) {
            w.putStrings("tokenizer.ggml.merges", merges);
        }
        putId(w, "tokenizer.ggml.bos_token_id", bos);
        putId(w, "tokenizer.ggml.eos_token_id", eos);
        putId(w, "tokenizer.ggml.unknown_token_id", unk);
        putId(w, "tokenizer.ggml.padding_token_id", pad);
        w.putBool("tokenizer.ggml.add_bos_token", addBos);
        w.putBool("tokenizer.ggml.add_eos_token", addEos);
        if (addSpacePrefix != null) {
            w.putBool("tokenizer.ggml.add_space_prefix", addSpacePrefix);
        }
        if (chatTemplate != null) {
            w.putString("tokenizer.chat_template", chatTemplate);
        }
    }

    private static void putId(GgufWriter w, String key, int id) {
        if (id >= 0) {
            w.putU32(key, id);
        }
    }

    /** Id-only checkpoints: {@code t5}, {@code ▁<id>} per normal id, {@code <s>}, {@code </s>}, {@code <unk>}. */
    static GgufVocabulary synthetic(LlamaConfig config) {
        Builder b = new Builder(config.vocabSize(), null);
        b.source = GgufExport.Vocabulary.SYNTHETIC;
        b.model = "t5";
        b.scores = new float[config.vocabSize()];
        List<Integer> eosIds = config.eosTokenIds().stream().sorted().toList();
        for (int id = 0; id < config.vocabSize(); id++) {
            if (id == config.bosTokenId()) {
                b.set(id, "<s>", CONTROL, 0);
            } else if (eosIds.contains(id)) {
                b.set(id, id == eosIds.get(0) ? "</s>" : "</s:" + id + ">", CONTROL, 0);
            } else if (id == 0) {
                b.set(id, "<unk>", UNKNOWN, 0);
                b.unk = 0;
            } else {
                b.set(id, SPACE + id, NORMAL, WORD_SCORE);
            }
        }
        b.bos = config.bosTokenId();
        b.eos = eosIds.isEmpty() ? -1 : eosIds.get(0);
        b.addBos = b.bos >= 0;
        b.addEos = false;
        b.addSpacePrefix = true;
        return b.build();
    }

    private static void wordLevel(Builder b, JsonNode tj) {
        b.source = GgufExport.Vocabulary.WORD_LEVEL;
        b.model = "t5";
        b.scores = new float[b.tokens.length];
        String continuing = wordPiecePrefix(tj.path("decoder"));
        Set<Integer> special = b.addedTokens(tj);
        String unkToken = tj.path("model").path("unk_token").asText(null);
        for (Map.Entry<String, JsonNode> e : tj.path("model").path("vocab").properties()) {
            int id = b.id(e.getKey(), e.getValue());
            if (special.contains(id)) {
                continue;
            }
            String word = e.getKey();
            if (word.equals(unkToken)) {
                b.set(id, word, UNKNOWN, 0);
            } else if (continuing != null && word.startsWith(continuing) && word.length() > continuing.length()) {
                b.set(id, word.substring(continuing.length()), NORMAL, WORD_SCORE);
            } else {
                b.set(id, SPACE + word, NORMAL, WORD_SCORE);
            }
        }
        b.addSpacePrefix = true;
    }

    private static void sentencePieceBpe(Builder b, JsonNode tj) {
        b.source = GgufExport.Vocabulary.SENTENCEPIECE_BPE;
        b.model = "llama";
        List<String> merges = merges(tj.path("model").path("merges"));
        Map<String, Integer> mergeRank = new HashMap<>();
        for (int r = 0; r < merges.size(); r++) {
            String merge = merges.get(r);
            mergeRank.putIfAbsent(merge.replace(" ", ""), r);
        }
        b.scores = new float[b.tokens.length];
        Set<Integer> special = b.addedTokens(tj);
        String unkToken = tj.path("model").path("unk_token").asText(null);
        for (Map.Entry<String, JsonNode> e : tj.path("model").path("vocab").properties()) {
            int id = b.id(e.getKey(), e.getValue());
            if (special.contains(id)) {
                continue;
            }
            String piece = e.getKey();
            if (piece.equals(unkToken)) {
                b.set(id, piece, UNKNOWN, 0);
            } else if (BYTE_TOKEN.matcher(piece).matches()) {
                b.set(id, piece, BYTE, 0);
            } else {
                Integer rank = mergeRank.get(piece);
                b.set(id, piece, NORMAL, rank != null ? -rank : -(merges.size() + (float) id));
            }
        }
        b.addSpacePrefix = prependsSpace(tj);
    }

    private static void byteLevelBpe(Builder b, JsonNode tj) {
        b.source = GgufExport.Vocabulary.BYTE_LEVEL_BPE;
        b.model = "gpt2";
        b.pre = preTokenizer(tj.path("pre_tokenizer"), b.file);
        b.merges.addAll(merges(tj.path("model").path("merges")));
        Set<Integer> special = b.addedTokens(tj);
        for (Map.Entry<String, JsonNode> e : tj.path("model").path("vocab").properties()) {
            int id = b.id(e.getKey(), e.getValue());
            if (!special.contains(id)) {
                b.set(id, e.getKey(), NORMAL, 0);
            }
        }
    }

    /** Merges as "left right" strings; tokenizer.json stores either those or [left, right] pairs. */
    private static List<String> merges(JsonNode node) {
        List<String> out = new ArrayList<>(node.size());
        for (JsonNode merge : node) {
            out.add(merge.isArray() ? merge.get(0).asText() + " " + merge.get(1).asText() : merge.asText());
        }
        return out;
    }

    /** The continuing-subword prefix of a WordPiece decoder (top level or in a Sequence), or null. */
    private static String wordPiecePrefix(JsonNode decoder) {
        if (decoder.path("type").asText("").equals("WordPiece")) {
            return decoder.path("prefix").asText("##");
        }
        for (JsonNode d : decoder.path("decoders")) {
            String prefix = wordPiecePrefix(d);
            if (prefix != null) {
                return prefix;
            }
        }
        return null;
    }

    /** Whether a SentencePiece-style tokenizer.json puts ▁ before the first word (Prepend or Metaspace). */
    private static boolean prependsSpace(JsonNode tj) {
        if (tj.path("normalizer").toString().contains("\"type\":\"Prepend\"")) {
            return true;
        }
        boolean[] found = {false};
        visit(tj.path("pre_tokenizer"), n -> {
            if (n.path("type").asText("").equals("Metaspace")) {
                String scheme = n.path("prepend_scheme").asText(n.path("add_prefix_space").asBoolean(true)
                        ? "always" : "never");
                found[0] |= !scheme.equals("never");
            }
        });
        return found[0];
    }

    /** llama.cpp's name for a byte-level BPE pre-tokenizer, recognized by its split regex. */
    private static String preTokenizer(JsonNode pre, Path file) {
        List<String> regexes = new ArrayList<>();
        boolean[] byteLevelRegex = {false};
        visit(pre, n -> {
            String t = n.path("type").asText("");
            if (t.equals("Split") && n.path("pattern").has("Regex")) {
                regexes.add(n.path("pattern").path("Regex").asText());
            } else if (t.equals("ByteLevel") && n.path("use_regex").asBoolean(true)) {
                byteLevelRegex[0] = true;
            }
        });
        if (regexes.size() == 1 && PRE_TOKENIZERS.containsKey(regexes.get(0))) {
            return PRE_TOKENIZERS.get(regexes.get(0));
        }
        if (regexes.isEmpty() && byteLevelRegex[0]) {
            return "gpt2";
        }
        throw new CheckpointException(file + ": byte-level BPE pre-tokenizer " + regexes + " is not one llama.cpp "
                + "names (supported: GPT-2's, LLaMA 3's, Qwen2's)");
    }

    private static void visit(JsonNode node, Consumer<JsonNode> f) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            return;
        }
        f.accept(node);
        for (String list : List.of("pretokenizers", "normalizers", "decoders")) {
            for (JsonNode child : node.path(list)) {
                visit(child, f);
            }
        }
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Accumulates tokens by id; ids left unset become UNUSED pads. */
    private static final class Builder {
        final Path file;
        final String[] tokens;
        final int[] types;
        final List<String> merges = new ArrayList<>();
        final Map<String, Integer> added = new HashMap<>();
        GgufExport.Vocabulary source;
        String model;
        String pre;
        float[] scores;
        int bos = -1, eos = -1, unk = -1, pad = -1;
        boolean addBos, addEos;
        Boolean addSpacePrefix;
        String chatTemplate;
        JsonNode tokenizerJson;

        Builder(int vocabSize, Path file) {
            this.file = file;
            this.tokens = new String[vocabSize];
            this.types = new int[vocabSize];
        }

        int id(String token, JsonNode idNode) {
            if (!idNode.canConvertToInt()) {
                throw new CheckpointException(file + ": token '" + token + "' has id " + idNode + ", not an int");
            }
            int id = idNode.intValue();
            if (id < 0 || id >= tokens.length) {
                throw new CheckpointException(file + ": token '" + token + "' has id " + id
                        + ", outside the model's vocabulary of " + tokens.length + " (config.json vocab_size)");
            }
            return id;
        }

        void set(int id, String text, int type, float score) {
            tokens[id] = text;
            types[id] = type;
            if (scores != null) {
                scores[id] = score;
            }
        }

        /** Sets the added tokens (special: CONTROL, else USER_DEFINED) and returns their ids. */
        Set<Integer> addedTokens(JsonNode tj) {
            Set<Integer> ids = new HashSet<>();
            for (JsonNode t : tj.path("added_tokens")) {
                String content = t.path("content").asText();
                int id = id(content, t.path("id"));
                set(id, content, t.path("special").asBoolean(false) ? CONTROL : USER_DEFINED, 0);
                added.put(content, id);
                ids.add(id);
            }
            return ids;
        }

        /**
         * BOS, EOS, unknown and padding ids: tokenizer_config.json's {@code *_token} looked up in the vocabulary,
         * else config.json's ids; add_bos/add_eos from tokenizer_config.json, else from the post-processor template.
         */
        void specials(JsonNode tj, JsonNode tc, LlamaConfig config) {
            bos = lookup(tc.get("bos_token"), config.bosTokenId());
            eos = lookup(tc.get("eos_token"),
                    config.eosTokenIds().stream().sorted().findFirst().orElse(-1));
            unk = lookup(tj.path("model").get("unk_token"), lookup(tc.get("unk_token"), -1));
            pad = lookup(tc.get("pad_token"), -1);
            if (unk >= 0) {
                types[unk] = UNKNOWN;
            }
            JsonNode single = tj.path("post_processor").path("single");
            String first = single.path(0).path("SpecialToken").path("id").asText(null);
            String last = single.path(single.size() - 1).path("SpecialToken").path("id").asText(null);
            addBos = tc.has("add_bos_token") ? tc.get("add_bos_token").asBoolean()
                    : bos >= 0 && tokens[bos] != null && tokens[bos].equals(first) || model.equals("llama");
            addEos = tc.has("add_eos_token") ? tc.get("add_eos_token").asBoolean()
                    : eos >= 0 && tokens[eos] != null && tokens[eos].equals(last) && single.size() > 1;
            if (addBos && bos < 0 || addEos && eos < 0) {
                throw new CheckpointException(file + ": the tokenizer adds BOS/EOS but no BOS/EOS id is known");
            }
        }

        private int lookup(JsonNode token, int fallback) {
            String text = token == null || token.isNull() ? null
                    : token.isTextual() ? token.textValue() : token.path("content").asText(null);
            if (text == null) {
                return fallback;
            }
            Integer id = added.get(text);
            if (id == null) {
                JsonNode v = tokenizerJson.path("model").path("vocab").get(text);
                id = v != null && v.canConvertToInt() ? v.intValue() : null;
            }
            return id != null ? id : fallback;
        }

        GgufVocabulary build() {
            Set<String> seen = new HashSet<>();
            for (int id = 0; id < tokens.length; id++) {
                if (tokens[id] == null) {
                    set(id, "[PAD" + id + "]", UNUSED, scores == null ? 0 : -1e9f);
                }
                if (!seen.add(tokens[id])) {
                    throw new CheckpointException((file != null ? file : Path.of("tokenizer"))
                            + ": two ids map to the GGUF token '" + tokens[id] + "' (the second is " + id + ")");
                }
            }
            return new GgufVocabulary(this);
        }
    }
}
