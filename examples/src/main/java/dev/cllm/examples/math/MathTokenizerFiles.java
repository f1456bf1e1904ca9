package dev.cllm.examples.math;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Writes the math task's tokenizer as a Hugging Face {@code tokenizer.json}: one token per word of a closed vocabulary
 * (every word and punctuation mark the generator can emit, the operators {@code + - x / =}, and the ten digits). It
 * uses only components of the Rust {@code tokenizers} library that DJL binds (0.21), and is checked through
 * {@code dev.cllm.torch.HfTokenizer.open(...)}.
 *
 * <p><b>Numbers digit by digit.</b> The text writes numbers as usual ({@code 127}); the tokenizer splits them into
 * one token per digit ({@code 1 2 7}). Ten tokens then cover every number, so the vocabulary stays tiny and no number
 * is unknown, and a model sees the digits it must add, subtract, multiply or divide in place value order: column
 * arithmetic with carries is a short, regular pattern over ten tokens, where one token per number would make every
 * sum a fact to memorise (and a 3-digit total one of a thousand rare tokens).
 *
 * <p>The pipeline, for text such as {@code 12 + 5 = 17 . final answer 17}:
 * <ol>
 *   <li>pre-tokenizer: split on whitespace, then every digit on its own: {@code 1 2 + 5 = 1 7 . final answer 1 7};</li>
 *   <li>model: {@code WordLevel}, unknown words become {@code <unk>};</li>
 *   <li>post-processor: {@code <s>} in front ({@code TemplateProcessing});</li>
 *   <li>decoder: tokens joined by spaces ({@code WordPiece} decoder, no cleanup), then the spaces between two digits
 *       go, restoring the text exactly (no two numbers of the task are adjacent).</li>
 * </ol>
 * Everything is lowercase; no normalizer. Special tokens: {@code <pad>} 0, {@code <s>} 1 (BOS), {@code </s>} 2 (EOS),
 * {@code <unk>} 3.
 */
public final class MathTokenizerFiles {
    public static final String PAD = "<pad>";
    public static final String BOS = "<s>";
    public static final String EOS = "</s>";
    public static final String UNK = "<unk>";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private MathTokenizerFiles() {
    }

    /**
     * The vocabulary in id order: the special tokens, the digits, then every other token sorted. The same on every
     * run; it depends only on the generator's word lists and templates, not on a seed.
     */
    public static List<String> vocabulary() {
        List<String> out = new ArrayList<>(List.of(PAD, BOS, EOS, UNK, "0", "1", "2", "3", "4", "5", "6", "7", "8",
                "9"));
        Set<String> words = new TreeSet<>(MathStep.literalWords(MathTask.prompt("")));
        words.addAll(MathStep.literalWords(MathStep.FINAL_ANSWER));
        for (MathStep s : MathStep.values()) {
            words.addAll(MathStep.literalWords(s.solution()));
        }
        for (MathPhrasing p : MathPhrasing.values()) {
            p.templates().forEach(t -> words.addAll(MathStep.literalWords(t)));
        }
        for (MathStory s : MathStory.values()) {
            words.addAll(s.words());
        }
        for (MathTaskGenerator.Person p : MathTaskGenerator.PEOPLE) {
            words.addAll(List.of(p.name(), p.pronoun()));
        }
        words.removeAll(out);
        out.addAll(words);
        return List.copyOf(out);
    }

    /**
     * Writes {@code dir/tokenizer.json} and {@code dir/tokenizer_config.json} (BOS {@code <s>}, EOS {@code </s>},
     * pad {@code <pad>}, unk {@code <unk>}), creating {@code dir} if needed, and returns the path of
     * {@code tokenizer.json}.
     *
     * @throws UncheckedIOException if a file cannot be written
     */
    public static Path write(Path dir) {
        Path tokenizerJson = dir.resolve("tokenizer.json");
        try {
            Files.createDirectories(dir);
            JSON.writeValue(tokenizerJson.toFile(), tokenizerJson());
            JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), JSON.createObjectNode()
                    .put("tokenizer_class", "PreTrainedTokenizerFast").put("bos_token", BOS).put("eos_token", EOS)
                    .put("pad_token", PAD).put("unk_token", UNK).put("add_bos_token", true)
                    .put("add_eos_token", false).put("clean_up_tokenization_spaces", false)
                    .put("model_max_length", 512));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tokenizer to " + dir, e);
        }
        return tokenizerJson;
    }

    static ObjectNode tokenizerJson() {
        List<String> vocabulary = vocabulary();
        ObjectNode root = JSON.createObjectNode().put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");

        ArrayNode added = root.putArray("added_tokens");
        for (String special : List.of(PAD, BOS, EOS, UNK)) {
            added.addObject().put("id", vocabulary.indexOf(special)).put("content", special)
                    .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false)
                    .put("special", true);
        }
        root.putNull("normalizer");

        ObjectNode preTokenizer = root.putObject("pre_tokenizer").put("type", "Sequence");
        ArrayNode preTokenizers = preTokenizer.putArray("pretokenizers");
        preTokenizers.addObject().put("type", "WhitespaceSplit");
        preTokenizers.addObject().put("type", "Digits").put("individual_digits", true);

        ObjectNode model = root.putObject("model").put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < vocabulary.size(); id++) {
            vocab.put(vocabulary.get(id), id);
        }
        model.put("unk_token", UNK);

        ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        specialToken(single.addObject(), BOS);
        sequence(single.addObject(), "A", 0);
        ArrayNode pair = post.putArray("pair");
        specialToken(pair.addObject(), BOS);
        sequence(pair.addObject(), "A", 0);
        sequence(pair.addObject(), "B", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject(BOS).put("id", BOS);
        bos.putArray("ids").add(vocabulary.indexOf(BOS));
        bos.putArray("tokens").add(BOS);

        ObjectNode decoder = root.putObject("decoder").put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        decoders.addObject().put("type", "WordPiece").put("prefix", "##").put("cleanup", false);
        decoders.addObject().put("type", "Fuse");
        ObjectNode digits = decoders.addObject().put("type", "Replace");
        digits.putObject("pattern").put("Regex", "(?<=[0-9]) (?=[0-9])");
        digits.put("content", "");
        return root;
    }

    private static void specialToken(ObjectNode node, String token) {
        node.putObject("SpecialToken").put("id", token).put("type_id", 0);
    }

    private static void sequence(ObjectNode node, String id, int typeId) {
        node.putObject("Sequence").put("id", id).put("type_id", typeId);
    }
}
