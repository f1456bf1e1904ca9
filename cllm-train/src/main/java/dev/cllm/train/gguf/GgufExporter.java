package dev.cllm.train.gguf;

import dev.cllm.api.CheckpointException;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.RopeScaling;
import dev.cllm.torch.SafetensorsCheckpoint;
import dev.cllm.torch.SafetensorsDtype;
import dev.cllm.torch.SafetensorsHeader;
import dev.cllm.torch.SafetensorsHeader.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Exports a checkpoint directory (Hugging Face layout: config.json, safetensors, tokenizer.json) as a GGUF v3 file
 * that llama.cpp loads. Pure Java: no native code runs.
 *
 * <p><b>Model.</b> {@code LlamaForCausalLM} and {@code MistralForCausalLM} become {@code general.architecture = llama}
 * with q and k rows permuted from Hugging Face's rotate-half RoPE layout to llama.cpp's interleaved one
 * ({@link QkPermutation}); {@code Qwen2ForCausalLM} becomes {@code qwen2}, unpermuted, with its q/k/v biases. The
 * {@code <arch>.*} keys carry context length, sizes, head counts, head dimension, RMS epsilon and RoPE base; linear
 * RoPE scaling is written as {@code rope.scaling.type/factor}, LLaMA 3.1 scaling as a {@code rope_freqs} tensor.
 * Weights are read as F32, F16 or BF16; norms and biases are stored F32, matrices as {@link GgufType} says.
 *
 * <p><b>Tokenizer.</b> One token per model id, always; what each checkpoint gets:
 * <ul>
 * <li>byte-level BPE tokenizer.json (GPT-2 style, Qwen2, LLaMA 3): {@code tokenizer.ggml.model = gpt2}, the vocabulary
 *     and merges as they are, {@code pre} named from the pre-tokenizer regex ({@code gpt2}, {@code llama-bpe},
 *     {@code qwen2}; others are refused); added tokens are CONTROL if special, else USER_DEFINED.</li>
 * <li>BPE with byte fallback (SentencePiece style, LLaMA 2, Mistral): {@code llama}; {@code <0xXX>} tokens are BYTE,
 *     the unknown token UNKNOWN; a token's score is minus the rank of the merge that forms it, so llama.cpp's
 *     highest-score-first merging follows the merge order; {@code add_space_prefix} when the tokenizer prepends ▁.</li>
 * <li>word-level tokenizer.json (our SQL models): {@code t5} (llama.cpp's unigram tokenizer) with each word written
 *     as {@code ▁word} (score -1), continuing tokens of a WordPiece decoder ({@code ##'}) without prefix, specials
 *     CONTROL. llama.cpp then splits text only at spaces, so it reproduces our ids for text written as our tokens
 *     joined by single spaces (digits separated: {@code 4 2}, not {@code 42}; {@code ##'} glued to the word before);
 *     other text (e.g. {@code 42}, {@code x'y}) tokenizes differently, so pass such prompts as ids.</li>
 * <li>no tokenizer.json (id-only models such as stories260K): synthetic {@code t5}: id i is {@code ▁i} (so text
 *     {@code "404 475"} is ids 404 and 475 and output decodes to the ids in decimal), BOS {@code <s>} and EOS
 *     {@code </s>} (ids from config.json, CONTROL), id 0 {@code <unk>} unless it is BOS or EOS.</li>
 * </ul>
 * BOS, EOS, unknown and padding ids come from tokenizer_config.json's tokens, else config.json;
 * {@code add_bos_token}/{@code add_eos_token} from tokenizer_config.json, else the post-processor template; a chat
 * template is copied. A tokenizer with fewer ids than {@code vocab_size} is padded with UNUSED {@code [PAD<id>]}.
 *
 * <p>The file is written to {@code out + ".part"} and moved to {@code out} when complete. Memory stays bounded: tensors
 * are converted in chunks of at most a few megabytes, whatever the model's size.
 */
public final class GgufExporter {
    /** Values converted per chunk: 2^21 floats, 8 MiB. */
    private static final int CHUNK_VALUES = 1 << 21;
    private static final Set<SafetensorsDtype> READABLE = Set.of(SafetensorsDtype.F32, SafetensorsDtype.F16,
            SafetensorsDtype.BF16);

    private GgufExporter() {
    }

    /**
     * Writes {@code modelDir} as GGUF to {@code out}.
     *
     * @throws CheckpointException  naming the file and field or tensor when the checkpoint is unsupported or
     *                              malformed (architecture, missing tensor or shape mismatch, dtype, tokenizer)
     * @throws UncheckedIOException if a file cannot be read or written
     */
    public static GgufExport export(Path modelDir, Path out, GgufType type) {
        LlamaConfig config = LlamaConfig.read(modelDir.resolve("config.json"));
        String arch = GgufTensor.architecture(config);
        if (arch.equals("qwen2") && config.ropeScaling() != null && config.ropeScaling().type().equals("llama3")) {
            throw new CheckpointException(modelDir.resolve("config.json") + ": llama3 RoPE scaling on Qwen2 has no "
                    + "llama.cpp equivalent");
        }
        GgufVocabulary vocab = GgufVocabulary.read(modelDir, config);
        List<GgufTensor> plan = GgufTensor.plan(config, type);
        Path part = out.resolveSibling(out.getFileName() + ".part");
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(modelDir);
             Sources sources = new Sources(modelDir, checkpoint)) {
            for (GgufTensor t : plan) {
                if (t.hfName() != null) {
                    sources.check(t);
                }
            }
            long fileBytes;
            int quantized = 0;
            try (GgufWriter w = new GgufWriter(part)) {
                writeMetadata(w, config, arch, type, modelDir, vocab);
                for (GgufTensor t : plan) {
                    w.declareTensor(t.name(), t.ne(), t.type());
                    quantized += t.type() == GgmlType.Q8_0 ? 1 : 0;
                }
                w.writeHeader();
                for (GgufTensor t : plan) {
                    w.beginTensor(t.name());
                    writeTensor(w, t, sources);
                    w.endTensor();
                }
                fileBytes = w.fileBytes();
            }
            Files.move(part, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return new GgufExport(out, arch, type, plan.size(), quantized, fileBytes, vocab.source, vocab.model,
                    vocab.tokens.size());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot export " + modelDir + " to " + out + ": " + e, e);
        } finally {
            try {
                Files.deleteIfExists(part);
            } catch (IOException ignored) {
                // the export already failed or succeeded; a stale .part is harmless
            }
        }
    }

    private static void writeMetadata(GgufWriter w, LlamaConfig c, String arch, GgufType type, Path modelDir,
                                      GgufVocabulary vocab) {
        w.putString("general.architecture", arch);
        w.putString("general.type", "model");
        Path name = modelDir.toAbsolutePath().normalize().getFileName();
        w.putString("general.name", name == null ? "model" : name.toString());
        w.putU32("general.file_type", type.fileType());
        w.putU32("general.quantization_version", 2); // GGML_QNT_VERSION
        w.putU32(arch + ".vocab_size", c.vocabSize());
        w.putU32(arch + ".context_length", c.maxPositions());
        w.putU32(arch + ".embedding_length", c.hiddenSize());
        w.putU32(arch + ".block_count", c.numLayers());
        w.putU32(arch + ".feed_forward_length", c.intermediateSize());
        w.putU32(arch + ".attention.head_count", c.numHeads());
        w.putU32(arch + ".attention.head_count_kv", c.numKvHeads());
        w.putF32(arch + ".attention.layer_norm_rms_epsilon", c.rmsNormEps());
        w.putF32(arch + ".rope.freq_base", c.ropeTheta());
        w.putU32(arch + ".rope.dimension_count", c.headDim());
        if ((long) c.headDim() * c.numHeads() != c.hiddenSize()) {
            w.putU32(arch + ".attention.key_length", c.headDim());
            w.putU32(arch + ".attention.value_length", c.headDim());
        }
        RopeScaling s = c.ropeScaling();
        if (s != null && s.type().equals("linear")) {
            w.putString(arch + ".rope.scaling.type", "linear");
            w.putF32(arch + ".rope.scaling.factor", s.factor());
        }
        vocab.writeTo(w);
    }

    /** Converts one tensor chunk by chunk: read rows, permute, encode. */
    private static void writeTensor(GgufWriter w, GgufTensor t, Sources sources) throws IOException {
        // a vector that is permuted is a column of one value per row
        long rows = t.isMatrix() ? t.rows() : t.headDim() > 0 ? t.cols() : 1;
        int cols = (int) (t.isMatrix() || t.headDim() == 0 ? t.cols() : 1);
        if (t.values() != null) {
            ByteBuffer buf = ByteBuffer.allocate(t.values().length * 4).order(ByteOrder.LITTLE_ENDIAN);
            encode(t.values(), 0, t.values().length, cols, t.type(), buf);
            w.write(buf.flip());
            return;
        }
        int unit = Math.max(1, t.headDim());
        int rowsPerChunk = (int) Math.min(rows, Math.max(unit, (CHUNK_VALUES / cols) / unit * unit));
        float[] x = new float[rowsPerChunk * cols];
        ByteBuffer encoded = ByteBuffer.allocate((int) t.type().bytes((long) rowsPerChunk * cols))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (long r = 0; r < rows; r += rowsPerChunk) {
            int n = (int) Math.min(rowsPerChunk, rows - r);
            sources.read(t.hfName(), r * cols, n * cols, x);
            if (t.headDim() > 0) {
                QkPermutation.apply(x, n, cols, t.headDim());
            }
            encoded.clear();
            encode(x, 0, n * cols, cols, t.type(), encoded);
            w.write(encoded.flip());
        }
    }

    private static void encode(float[] x, int offset, int n, int cols, GgmlType type, ByteBuffer out) {
        switch (type) {
            case F32 -> {
                for (int i = offset; i < offset + n; i++) {
                    out.putFloat(x[i]);
                }
            }
            case F16 -> {
                for (int i = offset; i < offset + n; i++) {
                    out.putShort(Float16.fromFloat(x[i]));
                }
            }
            case Q8_0 -> Q8_0.quantize(x, offset, n, out);
        }
    }

    /** The checkpoint's files, opened for reading raw tensor bytes. */
    private static final class Sources implements AutoCloseable {
        private final Path dir;
        private final SafetensorsCheckpoint checkpoint;
        private final Map<Path, FileChannel> channels = new HashMap<>();
        private final Map<Path, Long> dataStarts = new HashMap<>();

        Sources(Path dir, SafetensorsCheckpoint checkpoint) {
            this.dir = dir;
            this.checkpoint = checkpoint;
        }

        /** Checks that the tensor exists with the planned shape and a readable dtype. */
        void check(GgufTensor t) {
            if (!checkpoint.contains(t.hfName())) {
                Path single = dir.resolve("model.safetensors");
                Path weights = Files.isRegularFile(single) ? single : dir.resolve("model.safetensors.index.json");
                throw new CheckpointException(weights + ": missing tensor '" + t.hfName() + "' (needed for "
                        + t.name() + ")");
            }
            TensorInfo info = checkpoint.info(t.hfName());
            Path file = checkpoint.fileOf(t.hfName());
            if (!READABLE.contains(info.dtype())) {
                throw new CheckpointException(file + ": tensor '" + t.hfName() + "' has dtype " + info.dtype()
                        + "; GGUF export reads F32, F16 or BF16");
            }
            if (!info.shape().equals(t.hfShape())) {
                throw new CheckpointException(file + ": tensor '" + t.hfName() + "' has shape " + info.shape()
                        + ", config.json implies " + t.hfShape());
            }
        }

        /** Reads {@code n} values from element {@code start} of a tensor into {@code x}, as floats. */
        void read(String name, long start, int n, float[] x) throws IOException {
            TensorInfo info = checkpoint.info(name);
            Path file = checkpoint.fileOf(name);
            FileChannel channel = channel(file);
            int size = info.dtype().byteSize();
            ByteBuffer buf = ByteBuffer.allocate(n * size).order(ByteOrder.LITTLE_ENDIAN);
            long position = dataStarts.get(file) + info.begin() + start * size;
            while (buf.hasRemaining()) {
                if (channel.read(buf, position + buf.position()) < 0) {
                    throw new CheckpointException(file + ": tensor '" + name + "' ends past the end of the file");
                }
            }
            buf.flip();
            switch (info.dtype()) {
                case F32 -> buf.asFloatBuffer().get(x, 0, n);
                case F16 -> {
                    for (int i = 0; i < n; i++) {
                        x[i] = Float16.toFloat(buf.getShort());
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < n; i++) {
                        x[i] = Float16.bf16ToFloat(buf.getShort());
                    }
                }
                default -> throw new AssertionError(info.dtype());
            }
        }

        private FileChannel channel(Path file) throws IOException {
            FileChannel channel = channels.get(file);
            if (channel == null) {
                dataStarts.put(file, SafetensorsHeader.read(file).dataStart());
                channel = FileChannel.open(file, StandardOpenOption.READ);
                channels.put(file, channel);
            }
            return channel;
        }

        @Override
        public void close() throws IOException {
            for (FileChannel c : channels.values()) {
                c.close();
            }
        }
    }
}
