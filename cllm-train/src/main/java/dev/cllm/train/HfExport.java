package dev.cllm.train;

import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.HfNames;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.SafetensorsCheckpoint;
import dev.cllm.torch.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes a {@link LlamaModel} as a Hugging Face checkpoint directory that {@code transformers} (and this SDK) load:
 * {@code config.json} with {@code torch_dtype}, and the weights under their Hugging Face names, the fused
 * projections split back.
 */
public final class HfExport {
    /** Hugging Face's default shard size for {@code save_pretrained}. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    /**
     * The files of a Hugging Face model directory besides {@code config.json} and the weights (tokenizer and
     * generation settings), which a derived checkpoint carries over so that it is complete for Hugging Face tools.
     */
    public static final List<String> COMPANION_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "generation_config.json", "tokenizer.model");

    private HfExport() {
    }

    /**
     * The weights under their Hugging Face names, fused projections split back: views into the model's tensors,
     * created in the caller's {@code PointerScope}.
     */
    public static Map<String, Tensor> stateDict(LlamaModel model) {
        LlamaConfig config = model.config();
        Map<String, Tensor> w = model.weights();
        Map<String, Tensor> out = new LinkedHashMap<>();
        long qRows = (long) config.numHeads() * config.headDim();
        long kvRows = (long) config.numKvHeads() * config.headDim();
        long ffn = config.intermediateSize();
        String[] qkv = {HfNames.Q, HfNames.K, HfNames.V};
        String[] gateUp = {HfNames.GATE, HfNames.UP};
        out.put(HfNames.EMBED, w.get("embed").detach());
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "layers." + l + ".";
            out.put(HfNames.layer(l, HfNames.ATTN_NORM), w.get(p + "attn_norm").detach());
            split(out, l, w.get(p + "wqkv"), HfNames.WEIGHT, qkv, new long[]{qRows, kvRows, kvRows});
            if (w.containsKey(p + "bqkv")) {
                split(out, l, w.get(p + "bqkv"), HfNames.BIAS, qkv, new long[]{qRows, kvRows, kvRows});
            }
            out.put(HfNames.layer(l, HfNames.O + HfNames.WEIGHT), w.get(p + "wo").detach());
            if (w.containsKey(p + "bo")) {
                out.put(HfNames.layer(l, HfNames.O + HfNames.BIAS), w.get(p + "bo").detach());
            }
            out.put(HfNames.layer(l, HfNames.MLP_NORM), w.get(p + "mlp_norm").detach());
            split(out, l, w.get(p + "w13"), HfNames.WEIGHT, gateUp, new long[]{ffn, ffn});
            if (w.containsKey(p + "b13")) {
                split(out, l, w.get(p + "b13"), HfNames.BIAS, gateUp, new long[]{ffn, ffn});
            }
            out.put(HfNames.layer(l, HfNames.DOWN + HfNames.WEIGHT), w.get(p + "w2").detach());
            if (w.containsKey(p + "b2")) {
                out.put(HfNames.layer(l, HfNames.DOWN + HfNames.BIAS), w.get(p + "b2").detach());
            }
        }
        out.put(HfNames.FINAL_NORM, w.get("norm").detach());
        if (w.containsKey("lm_head")) {
            out.put(HfNames.LM_HEAD, w.get("lm_head").detach());
        }
        return out;
    }

    private static void split(Map<String, Tensor> out, int l, Tensor fused, String suffix, String[] names,
                              long[] rows) {
        long start = 0;
        for (int i = 0; i < names.length; i++) {
            out.put(HfNames.layer(l, names[i] + suffix), fused.detach().narrow(0, start, rows[i]));
            start += rows[i];
        }
    }

    /**
     * Saves a Hugging Face checkpoint into {@code dir}: {@code config.json} (with {@code torch_dtype}) and the weights
     * in {@code storage} precision, as {@code model.safetensors} or shards of at most {@code maxShardBytes} with an
     * index. Each file is written to a temporary name and renamed into place.
     */
    public static void save(LlamaModel model, Path dir, ComputeDtype storage, long maxShardBytes) throws IOException {
        if (storage == ComputeDtype.AUTO) {
            throw new IllegalArgumentException("choose a storage dtype: F32, BF16 or F16");
        }
        ScalarType target = storage.scalarType(false);
        String torchDtype = switch (storage) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        };
        Files.createDirectories(dir);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> weights = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : stateDict(model).entrySet()) {
                weights.put(e.getKey(), e.getValue().to(Tensors.CPU, target).contiguous());
            }
            SafetensorsCheckpoint.writeSharded(dir, weights, maxShardBytes);
        }
        Path configFile = dir.resolve("config.json");
        Path tmp = dir.resolve("config.json.tmp");
        model.config().toBuilder().torchDtype(torchDtype).build().write(tmp);
        Files.move(tmp, configFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Whether {@code dir} does not exist or is an empty directory: a place a new checkpoint may be written. */
    public static boolean isAbsentOrEmptyDirectory(Path dir) {
        if (!Files.exists(dir)) {
            return true;
        }
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list: " + e, e);
        }
    }

    /** Copies those of the {@link #COMPANION_FILES} that exist in {@code from} into {@code to}, replacing any there. */
    public static void copyCompanionFiles(Path from, Path to) throws IOException {
        for (String name : COMPANION_FILES) {
            Path source = from.resolve(name);
            if (Files.isRegularFile(source)) {
                Files.copy(source, to.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
