package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static dev.cllm.torch.SafetensorsTestFiles.concat;
import static dev.cllm.torch.SafetensorsTestFiles.fileBytes;
import static dev.cllm.torch.SafetensorsTestFiles.floatBytes;
import static dev.cllm.torch.SafetensorsTestFiles.longBytes;
import static dev.cllm.torch.SafetensorsTestFiles.rawBytes;
import static dev.cllm.torch.SafetensorsTestFiles.readAll;
import static dev.cllm.torch.SafetensorsTestFiles.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.empty;

/** {@link SafetensorsWriter} then {@link SafetensorsFile}: bit-identical tensors, metadata and file layout. */
@SuppressWarnings("try") // PointerScopes are opened only to free what the block allocates
class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void loadTorch() {
        TorchRuntime.ensureLoaded();
    }

    @Test
    void floatsSurviveBitForBitIncludingSpecialValues() {
        float[] values = {0f, -0f, 1.5f, -3.25e-3f, Float.NaN, Float.intBitsToFloat(0x7fc12345), Float.MIN_VALUE,
                Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e-40f, 42f};
        try (PointerScope scope = new PointerScope()) {
            Tensor f32 = Tensor.create(values, 3, 4);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("f32", f32);
            tensors.put("bf16", Tensor.create(values, 3, 4).to(ScalarType.BFloat16));
            tensors.put("f16", Tensor.create(values, 2, 6).to(ScalarType.Half));
            tensors.put("i64", Tensor.create(new long[] {Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE}, 5));
            assertRoundTrip(tensors);
        }
    }

    @Test
    void scalarAndZeroSizeTensorsRoundTrip() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("scalar", Tensor.create(new float[] {7.5f}).reshape());
            tensors.put("empty", Tensor.create(new float[0], 0, 3));
            tensors.put("after", Tensor.create(new long[] {9}, 1));
            Path file = dir.resolve("edge.safetensors");
            SafetensorsWriter.write(file, tensors, Map.of());

            try (SafetensorsFile read = SafetensorsFile.open(file)) {
                assertThat(read.header().tensors().get("scalar").shape()).isEmpty();
                assertThat(read.header().tensors().get("empty").shape()).containsExactly(0L, 3L);
                Tensor scalar = read.read("scalar");
                assertThat(scalar.dim()).isZero();
                assertThat(new FloatPointer(scalar.data_ptr()).get()).isEqualTo(7.5f);
                assertThat(read.read("empty").shape()).containsExactly(0, 3);
                assertThat(new LongPointer(read.read("after").data_ptr()).get()).isEqualTo(9);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(SafetensorsDtype.class)
    void everyDtypeRoundTripsItsRawBytes(SafetensorsDtype dtype) {
        Random random = new Random(dtype.ordinal());
        byte[] bytes = new byte[6 * dtype.byteSize()];
        random.nextBytes(bytes);
        if (dtype == SafetensorsDtype.BOOL) {
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] &= 1;
            }
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor tensor = Tensor.create(bytes, bytes.length).view(dtype.scalarType()).view(2, 3);
            Map<String, Tensor> tensors = Map.of("t", tensor);
            Path file = dir.resolve(dtype + ".safetensors");
            SafetensorsWriter.write(file, tensors, Map.of());

            try (SafetensorsFile read = SafetensorsFile.open(file)) {
                assertThat(read.header().tensors().get("t").dtype()).isEqualTo(dtype);
                Tensor back = read.read("t");
                assertThat(SafetensorsDtype.of(back.scalar_type())).isEqualTo(dtype);
                assertThat(back.shape()).containsExactly(2, 3);
                assertThat(rawBytes(back)).isEqualTo(bytes);
            }
        }
    }

    @Test
    void metadataRoundTripsInOrder() {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("note", "ünïcödé \"quoted\" \n newline");
        try (PointerScope scope = new PointerScope()) {
            Path file = dir.resolve("meta.safetensors");
            SafetensorsWriter.write(file, Map.of("w", Tensor.create(new float[] {1f}, 1)), metadata);
            assertThat(SafetensorsHeader.read(file).metadata()).containsExactlyEntriesOf(metadata);
        }
    }

    @Test
    void layoutIsAlignedAndContiguousInMapOrder() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("z.first", Tensor.create(new float[] {1f, 2f, 3f}, 3));
            tensors.put("a.second", Tensor.create(new byte[] {1}, 1));
            tensors.put("m.third", Tensor.create(new long[] {5, 6}, 2));
            Path file = dir.resolve("layout.safetensors");
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));

            byte[] bytes = readAll(file);
            long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertThat(headerLength % 8).isZero();
            String json = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
            assertThat(json).startsWith("{\"__metadata__\":{\"format\":\"pt\"},\"z.first\":");
            SafetensorsHeader header = SafetensorsHeader.read(file);
            assertThat(header.tensors().keySet()).containsExactly("z.first", "a.second", "m.third");
            assertThat(header.tensors().values()).extracting(i -> i.begin() + ".." + i.end())
                    .containsExactly("0..12", "12..13", "13..29");
            assertThat(bytes.length).isEqualTo(8 + headerLength + 29);
            assertThat(Arrays.copyOfRange(bytes, (int) header.dataStart(), bytes.length))
                    .isEqualTo(concat(floatBytes(1f, 2f, 3f), new byte[] {1}, longBytes(5, 6)));
        }
    }

    @Test
    void nonContiguousTensorsAreWrittenInLogicalOrder() {
        try (PointerScope scope = new PointerScope()) {
            Tensor base = Tensor.create(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor transposed = base.t(); // [3, 2] view with strides (1, 3)
            Path file = dir.resolve("strided.safetensors");
            SafetensorsWriter.write(file, Map.of("t", transposed), Map.of());
            try (SafetensorsFile read = SafetensorsFile.open(file)) {
                Tensor back = read.read("t");
                assertThat(back.shape()).containsExactly(3, 2);
                assertThat(back.equal(transposed)).isTrue();
                assertThat(rawBytes(back)).isEqualTo(floatBytes(1, 4, 2, 5, 3, 6));
            }
        }
    }

    @Test
    void readsAHandBuiltFile() {
        String json = "{\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}";
        Path file = write(dir.resolve("hand.safetensors"), fileBytes(json, concat(floatBytes(1f, -2.5f),
                longBytes(42))));
        try (PointerScope scope = new PointerScope(); SafetensorsFile read = SafetensorsFile.open(file)) {
            float[] v = new float[2];
            new FloatPointer(read.read("v").data_ptr()).get(v);
            assertThat(v).containsExactly(1f, -2.5f);
            assertThat(new LongPointer(read.read("n").data_ptr()).get()).isEqualTo(42);
        }
    }

    @Test
    void overwritesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Path file = dir.resolve("model.safetensors");
            SafetensorsWriter.write(file, Map.of("a", Tensor.create(new float[] {1f}, 1)), Map.of());
            SafetensorsWriter.write(file, Map.of("b", Tensor.create(new long[] {2, 3}, 2)), Map.of());
            assertThat(SafetensorsHeader.read(file).tensors()).containsOnlyKeys("b");
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files).containsExactly(file);
            }
        }
    }

    @Test
    void readFailsNamingFileAndTensorWhenTruncatedAfterOpen() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Path file = dir.resolve("cut.safetensors");
            SafetensorsWriter.write(file, Map.of("w", Tensor.create(new float[64], 64)), Map.of());
            try (SafetensorsFile read = SafetensorsFile.open(file)) {
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    channel.truncate(Files.size(file) - 10);
                }
                assertThatThrownBy(() -> read.read("w"))
                        .isExactlyInstanceOf(CheckpointException.class)
                        .hasMessageContainingAll(file.toString(), "tensor 'w'", "truncated");
            }
            assertThatThrownBy(() -> SafetensorsFile.open(file))
                    .isExactlyInstanceOf(CheckpointException.class)
                    .hasMessageContainingAll(file.toString(), "tensor 'w'", "past the end of the data section");
        }
    }

    @Test
    void readOfAnAbsentNameNamesFileAndTensor() {
        try (PointerScope scope = new PointerScope()) {
            Path file = dir.resolve("one.safetensors");
            SafetensorsWriter.write(file, Map.of("w", Tensor.create(new float[] {1f}, 1)), Map.of());
            try (SafetensorsFile read = SafetensorsFile.open(file)) {
                assertThatThrownBy(() -> read.read("nope"))
                        .isExactlyInstanceOf(CheckpointException.class)
                        .hasMessageContainingAll(file.toString(), "no tensor 'nope'");
            }
        }
    }

    @Test
    void closeIsIdempotentAndReadAfterCloseThrows() {
        try (PointerScope scope = new PointerScope()) {
            Path file = dir.resolve("closed.safetensors");
            SafetensorsWriter.write(file, Map.of("w", Tensor.create(new float[] {1f}, 1)), Map.of());
            SafetensorsFile read = SafetensorsFile.open(file);
            read.close();
            read.close();
            assertThatThrownBy(() -> read.read("w")).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void writerRejectsReservedOrEmptyNamesAndUnsupportedDtypes() {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensor.create(new float[] {1f}, 1);
            Path file = dir.resolve("never.safetensors");
            assertThatThrownBy(() -> SafetensorsWriter.write(file, Map.of("", t), Map.of()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("invalid tensor name ''");
            assertThatThrownBy(() -> SafetensorsWriter.write(file, Map.of("__metadata__", t), Map.of()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'__metadata__'");
            assertThatThrownBy(() -> SafetensorsWriter.write(file, Map.of("c", t.to(ScalarType.ComplexFloat)),
                    Map.of()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor 'c'");
            assertThat(file).doesNotExist();
        }
    }

    @Test
    void windowCoversExactlyTheRequestedBytes() {
        try (PointerScope scope = new PointerScope()) {
            Tensor tensor = Tensor.create(new byte[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10);
            ByteBuffer window = SafetensorsFile.window(tensor.data_ptr(), 5, 3);
            assertThat(window.position()).isZero();
            assertThat(window.capacity()).isEqualTo(3);
            assertThat(new byte[] {window.get(0), window.get(1), window.get(2)}).containsExactly(5, 6, 7);
        }
    }

    /** 320 MB crosses the 256 MiB read and write chunk size; slow because of the disk traffic. */
    @Test
    @Tag("slow")
    void tensorLargerThanOneChunkRoundTrips() {
        int n = 80_000_000;
        try (PointerScope scope = new PointerScope()) {
            Tensor big = empty(new long[] {n}, new TensorOptions(ScalarType.Int), null);
            IntPointer values = new IntPointer(big.data_ptr());
            int[] block = new int[1 << 20];
            for (int start = 0; start < n; start += block.length) {
                int length = Math.min(block.length, n - start);
                for (int i = 0; i < length; i++) {
                    block[i] = start + i;
                }
                values.position(start).put(block, 0, length);
            }
            Path file = dir.resolve("big.safetensors");
            SafetensorsWriter.write(file, Map.of("big", big), Map.of());
            try (SafetensorsFile read = SafetensorsFile.open(file)) {
                assertThat(read.read("big").equal(big)).isTrue();
            }
        }
    }

    private void assertRoundTrip(Map<String, Tensor> tensors) {
        Path file = dir.resolve("roundtrip.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of());
        try (SafetensorsFile read = SafetensorsFile.open(file)) {
            assertThat(read.header().tensors().keySet()).containsExactlyElementsOf(tensors.keySet());
            for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
                Tensor back = read.read(entry.getKey());
                assertThat(back.scalar_type().intern()).as(entry.getKey())
                        .isEqualTo(entry.getValue().scalar_type().intern());
                assertThat(back.shape()).as(entry.getKey()).containsExactly(entry.getValue().shape());
                assertThat(rawBytes(back)).as(entry.getKey()).isEqualTo(rawBytes(entry.getValue()));
            }
        }
    }
}
