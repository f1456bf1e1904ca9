package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static dev.cllm.torch.SafetensorsTestFiles.fileBytes;
import static dev.cllm.torch.SafetensorsTestFiles.readAll;
import static dev.cllm.torch.SafetensorsTestFiles.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Mutated safetensors bytes either parse or fail with {@link CheckpointException}: never another exception, never a
 * hang. Seeded, so a failure names an iteration that reproduces.
 */
@SuppressWarnings("try") // PointerScopes are opened only to free what the block allocates
class SafetensorsFuzzTest {
    private static final long SEED = 20240229L;
    private static final String VALID_HEADER = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
            + "\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[48,56]},"
            + "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[56,64]},"
            + "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,7],\"data_offsets\":[64,64]}}";
    /** Fragments spliced into headers: structure, big and negative numbers, other dtypes, escapes. */
    private static final String[] TOKENS = {"{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "-", "0", "1e3", "2.5",
        "null", "true", "[]", "{}", "\"F32\"", "\"U64\"", "\"BOOL\"", "\"__metadata__\"", "\"dtype\"", "\"shape\"",
        "\"data_offsets\"", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "18446744073709551615", "4294967296", "\u00e9", "\ud83d\ude00", "[[[[[[[[[[", " "};

    @TempDir
    Path dir;

    @Test
    void parseOfMutatedHeaderJsonOnlyThrowsCheckpointException() {
        byte[] valid = VALID_HEADER.getBytes(StandardCharsets.UTF_8);
        assertThat(SafetensorsHeader.parse(valid, 64, "valid").tensors()).hasSize(4);
        Outcomes outcomes = new Outcomes();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Random random = new Random(SEED);
            for (int i = 0; i < 5_000; i++) {
                byte[] mutated = mutateJson(valid, random);
                long dataLength = random.nextInt(8) == 0 ? random.nextInt(128) : 64;
                outcomes.record(i, mutated, () -> SafetensorsHeader.parse(mutated, dataLength, "fuzz.safetensors"));
            }
        });
        outcomes.assertBothSeen(5_000);
    }

    @Test
    void readOfMutatedFilesOnlyThrowsCheckpointException() {
        byte[] valid = fileBytes(VALID_HEADER, new byte[64]);
        Path file = dir.resolve("fuzz.safetensors");
        Outcomes outcomes = new Outcomes();
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            Random random = new Random(SEED + 1);
            for (int i = 0; i < 2_000; i++) {
                byte[] mutated = mutateFile(valid, random);
                write(file, mutated);
                outcomes.record(i, mutated, () -> SafetensorsHeader.read(file));
            }
        });
        outcomes.assertBothSeen(2_000);
    }

    @Test
    void openAndReadAllOfMutatedRealFilesOnlyThrowsCheckpointException() {
        TorchRuntime.ensureLoaded();
        Path source = dir.resolve("source.safetensors");
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("w", Tensor.create(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
            tensors.put("b", Tensor.create(new float[] {.5f, -.5f, 7f}, 3).to(ScalarType.BFloat16));
            tensors.put("ids", Tensor.create(new long[] {3, 1, 4, 1, 5}, 5));
            tensors.put("scalar", Tensor.create(new float[] {9f}).reshape());
            tensors.put("empty", Tensor.create(new float[0], 0, 2));
            tensors.put("mask", Tensor.create(new boolean[] {true, false, true}, 3));
            SafetensorsWriter.write(source, tensors, Map.of("format", "pt"));
        }
        byte[] valid = readAll(source);
        Path file = dir.resolve("fuzz.safetensors");
        Outcomes outcomes = new Outcomes();
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            Random random = new Random(SEED + 2);
            for (int i = 0; i < 400; i++) {
                byte[] mutated = mutateFile(valid, random);
                write(file, mutated);
                outcomes.record(i, mutated, () -> {
                    try (SafetensorsFile read = SafetensorsFile.open(file); PointerScope scope = new PointerScope()) {
                        for (String name : read.header().tensors().keySet()) {
                            Tensor tensor = read.read(name);
                            assertThat(tensor.nbytes()).isEqualTo(read.header().tensors().get(name).byteSize());
                        }
                    }
                });
            }
        });
        outcomes.assertBothSeen(400);
    }

    /** Mutations of the whole file: the length prefix as well as the header and data. */
    private static byte[] mutateFile(byte[] valid, Random random) {
        long headerLength = ByteBuffer.wrap(valid, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] json = Arrays.copyOfRange(valid, 8, 8 + (int) headerLength);
        byte[] data = Arrays.copyOfRange(valid, 8 + (int) headerLength, valid.length);
        switch (random.nextInt(6)) {
            case 0: // a new length prefix, near the true one or anywhere
                return withPrefix(lengthPrefixMutation(headerLength, random), json, data);
            case 1: // cut the file anywhere
                return Arrays.copyOf(valid, random.nextInt(valid.length));
            case 2: // cut or extend the data only
                return withPrefix(headerLength, json, Arrays.copyOf(data, Math.max(0, data.length
                        + random.nextInt(17) - 12)));
            case 3: // flip bits anywhere
                byte[] flipped = valid.clone();
                for (int n = 1 + random.nextInt(4); n > 0; n--) {
                    flipped[random.nextInt(flipped.length)] ^= (byte) (1 << random.nextInt(8));
                }
                return flipped;
            default: // mutate the JSON, keeping the prefix consistent with it (or not)
                byte[] mutated = mutateJson(json, random);
                long prefix = random.nextInt(4) == 0 ? lengthPrefixMutation(mutated.length, random) : mutated.length;
                return withPrefix(prefix, mutated, data);
        }
    }

    private static long lengthPrefixMutation(long length, Random random) {
        switch (random.nextInt(5)) {
            case 0: return length + random.nextInt(33) - 16;
            case 1: return random.nextLong();
            case 2: return random.nextInt(4) - 1; // -1, 0, 1, 2
            case 3: return Long.MIN_VALUE + random.nextInt(2);
            default: return length << (1 + random.nextInt(40));
        }
    }

    /** One to four edits of the header JSON. */
    static byte[] mutateJson(byte[] json, Random random) {
        byte[] result = json;
        for (int n = 1 + random.nextInt(4); n > 0; n--) {
            result = mutateOnce(result, random);
        }
        return result;
    }

    private static byte[] mutateOnce(byte[] bytes, Random random) {
        int at = bytes.length == 0 ? 0 : random.nextInt(bytes.length);
        switch (random.nextInt(9)) {
            case 0: // flip one bit
                if (bytes.length > 0) {
                    bytes = bytes.clone();
                    bytes[at] ^= (byte) (1 << random.nextInt(8));
                }
                return bytes;
            case 1: // overwrite one byte with anything
                if (bytes.length > 0) {
                    bytes = bytes.clone();
                    bytes[at] = (byte) random.nextInt(256);
                }
                return bytes;
            case 2: // insert random bytes
                byte[] noise = new byte[1 + random.nextInt(4)];
                random.nextBytes(noise);
                return splice(bytes, at, 0, noise);
            case 3: // delete a range
                return splice(bytes, at, Math.min(bytes.length - at, 1 + random.nextInt(12)), new byte[0]);
            case 4: // truncate
                return Arrays.copyOf(bytes, at);
            case 5: // change a digit (shapes and offsets)
                return changeDigit(bytes, random, false);
            case 6: // grow a number by inserting digits
                return changeDigit(bytes, random, true);
            case 7: // duplicate a slice (repeated keys, doubled structure)
                int length = Math.min(bytes.length - at, 1 + random.nextInt(40));
                return splice(bytes, random.nextInt(bytes.length + 1), 0, Arrays.copyOfRange(bytes, at, at + length));
            default: // splice in a token
                return splice(bytes, at, Math.min(bytes.length - at, random.nextInt(3)),
                        TOKENS[random.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8));
        }
    }

    private static byte[] changeDigit(byte[] bytes, Random random, boolean insert) {
        int digits = 0;
        for (byte b : bytes) {
            digits += b >= '0' && b <= '9' ? 1 : 0;
        }
        if (digits == 0) {
            return bytes;
        }
        int target = random.nextInt(digits);
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] >= '0' && bytes[i] <= '9' && target-- == 0) {
                byte[] newDigits = new byte[insert ? 1 + random.nextInt(20) : 1];
                for (int d = 0; d < newDigits.length; d++) {
                    newDigits[d] = (byte) ('0' + random.nextInt(10));
                }
                return splice(bytes, i, insert ? 0 : 1, newDigits);
            }
        }
        throw new AssertionError("unreachable");
    }

    private static byte[] splice(byte[] bytes, int at, int removed, byte[] inserted) {
        byte[] result = new byte[bytes.length - removed + inserted.length];
        System.arraycopy(bytes, 0, result, 0, at);
        System.arraycopy(inserted, 0, result, at, inserted.length);
        System.arraycopy(bytes, at + removed, result, at + inserted.length, bytes.length - at - removed);
        return result;
    }

    private static byte[] withPrefix(long headerLength, byte[] json, byte[] data) {
        return ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(headerLength).put(json).put(data).array();
    }

    /** Counts accepted and rejected inputs; fails on any exception other than CheckpointException. */
    private static final class Outcomes {
        private int accepted;
        private int rejected;

        void record(int iteration, byte[] input, ThrowingAction action) {
            try {
                action.run();
                accepted++;
            } catch (CheckpointException e) {
                assertThat(e.getMessage()).as("iteration %d", iteration).contains("fuzz.safetensors");
                rejected++;
            } catch (Throwable e) {
                fail("iteration " + iteration + " threw " + e + " for input "
                        + HexFormat.of().formatHex(input), e);
            }
        }

        void assertBothSeen(int iterations) {
            assertThat(accepted + rejected).isEqualTo(iterations);
            // a fuzzer that only ever produces garbage, or only valid files, tests nothing
            assertThat(accepted).as("accepted of %d", iterations).isGreaterThan(iterations / 100);
            assertThat(rejected).as("rejected of %d", iterations).isGreaterThan(iterations / 2);
        }
    }

    private interface ThrowingAction {
        void run() throws Exception;
    }
}
