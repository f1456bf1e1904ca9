package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import dev.cllm.torch.SafetensorsHeader.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.cllm.torch.SafetensorsTestFiles.fileBytes;
import static dev.cllm.torch.SafetensorsTestFiles.withLengthPrefix;
import static dev.cllm.torch.SafetensorsTestFiles.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Header parsing and validation; pure Java, no libtorch. */
class SafetensorsHeaderTest {
    private static final String FILE = "bad.safetensors";

    @TempDir
    Path dir;

    @Test
    void parsesTensorsMetadataAndDataStart() {
        String json = "{\"__metadata__\":{\"format\":\"pt\",\"step\":\"7\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[24,30]},"
                + "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[32,40]}}";
        Path file = write(dir.resolve("ok.safetensors"), fileBytes(json, new byte[40]));

        SafetensorsHeader header = SafetensorsHeader.read(file);

        assertThat(header.tensors().keySet()).containsExactly("w", "b", "s");
        assertThat(header.tensors().get("w"))
                .isEqualTo(new TensorInfo("w", SafetensorsDtype.F32, List.of(2L, 3L), 0, 24));
        assertThat(header.tensors().get("w").numel()).isEqualTo(6);
        assertThat(header.tensors().get("b").byteSize()).isEqualTo(6);
        assertThat(header.tensors().get("s").numel()).isEqualTo(1);
        assertThat(header.tensors().get("s").shape()).isEmpty();
        assertThat(header.metadata()).containsExactly(Map.entry("format", "pt"), Map.entry("step", "7"));
        assertThat(header.dataStart()).isEqualTo(8 + json.getBytes(StandardCharsets.UTF_8).length);
        assertThat(header.dataLength()).isEqualTo(40);
    }

    @Test
    void acceptsZeroSizeTensorsAnywhereAndNoMetadata() {
        String json = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[2,2]},"
                + "\"f\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]}}";

        SafetensorsHeader header = SafetensorsHeader.parse(utf8(json), 4, FILE);

        assertThat(header.tensors().get("e").numel()).isZero();
        assertThat(header.metadata()).isEmpty();
    }

    @Test
    void acceptsEveryDtypeName() {
        for (SafetensorsDtype dtype : SafetensorsDtype.values()) {
            String json = "{\"t\":{\"dtype\":\"" + dtype + "\",\"shape\":[3],\"data_offsets\":[0,"
                    + 3 * dtype.byteSize() + "]}}";
            assertThat(SafetensorsHeader.parse(utf8(json), 24, FILE).tensors().get("t").dtype()).isEqualTo(dtype);
        }
    }

    @Test
    void acceptsPaddingAndWhitespace() {
        String json = " {\n \"t\" : {\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]} }      ";
        assertThat(SafetensorsHeader.parse(utf8(json), 1, FILE).tensors()).containsKey("t");
    }

    static Stream<Arguments> badHeaders() {
        return Stream.of(
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", List.of("not valid JSON")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x",
                        List.of("not valid JSON")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        List.of("not valid JSON", "Duplicate field 'w'")),
                arguments("[1, 2]", List.of("header is a JSON ARRAY, not an object")),
                arguments("        ", List.of("header is empty")),
                arguments("{\"w\":5}", List.of("tensor 'w'", "not an object", "5")),
                arguments("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "missing field 'dtype'")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "missing field 'shape'")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}",
                        List.of("tensor 'w'", "missing field 'data_offsets'")),
                arguments("{\"w\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "dtype is 7")),
                arguments("{\"w\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "unknown dtype \"F128\"")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "shape is 2, not an array")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "dimension -1")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "dimension 2.5")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "dimension \"2\"")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}",
                        List.of("tensor 'w'", "data_offsets is [0], not two non-negative integers")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}",
                        List.of("tensor 'w'", "data_offsets is [0,8,16]")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}",
                        List.of("tensor 'w'", "data_offsets is [-8,0]")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}",
                        List.of("tensor 'w'", "data_offsets is [0,99999999999999999999]")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\"0-8\"}}",
                        List.of("tensor 'w'", "data_offsets is \"0-8\"")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,8]}}",
                        List.of("tensor 'w'", "data_offsets [16, 8] begin after end")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[64,72]}}",
                        List.of("tensor 'w'", "end 72 is past the end of the data section (64 bytes")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}",
                        List.of("tensor 'w'", "hold 12 bytes but shape [2, 2] of F32 needs 16")),
                arguments("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "shape [4294967296, 4294967296] of F32 overflows")),
                arguments("{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}",
                        List.of("tensor 'w'", "overflows")),
                arguments("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                        List.of("tensor 'b'", "data_offsets [12, 20] overlap tensor 'a' at [0, 16]")),
                arguments("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        List.of("overlap", "'a'", "'b'")),
                arguments("{\"__metadata__\":[\"x\"]}", List.of("__metadata__ is a JSON ARRAY")),
                arguments("{\"__metadata__\":{\"epoch\":3}}",
                        List.of("__metadata__ entry 'epoch' is 3, not a string")));
    }

    @ParameterizedTest
    @MethodSource("badHeaders")
    void rejectsMalformedHeaderNamingFileFieldAndValue(String json, List<String> expected) {
        assertThatThrownBy(() -> SafetensorsHeader.parse(utf8(json), 64, FILE))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(FILE + ": ")
                .hasMessageContainingAll(expected.toArray(new String[0]));
    }

    @Test
    void rejectsInvalidUtf8() {
        byte[] json = utf8("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        json[2] = (byte) 0xC3; // a two-byte lead byte followed by an ASCII byte
        assertRejected(fileBytes(json, new byte[8]), "header is not valid UTF-8 (header byte 2)");
    }

    @Test
    void rejectsFileShorterThanTheLengthPrefix() {
        assertRejected(new byte[] {1, 0, 0}, "file has 3 bytes, fewer than the 8-byte header length");
        assertRejected(new byte[0], "file has 0 bytes");
    }

    @Test
    void rejectsZeroHeaderLength() {
        assertRejected(withLengthPrefix(0, new byte[16]), "header length is 0");
    }

    @Test
    void rejectsHeaderLengthNegativeAsSigned() {
        assertRejected(withLengthPrefix(-1, new byte[16]),
                "header length 18446744073709551615 is larger than the limit of 100000000 bytes");
    }

    @Test
    void rejectsHeaderLengthOverTheLimit() {
        assertRejected(withLengthPrefix(100_000_001, new byte[16]),
                "header length 100000001 is larger than the limit of 100000000 bytes");
    }

    @Test
    void rejectsHeaderLengthPastTheEndOfTheFile() {
        assertRejected(withLengthPrefix(17, new byte[16]), "header length 17 runs past the end of the file (24 bytes)");
    }

    @Test
    void rejectsTruncatedDataAtOpen() {
        byte[] whole = fileBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[16]);
        byte[] truncated = Arrays.copyOf(whole, whole.length - 3);
        assertRejected(truncated,
                "tensor 'w': data_offsets end 16 is past the end of the data section (13 bytes; truncated?)");
    }

    @Test
    void reportsMissingFileAsCheckpointException() {
        Path missing = dir.resolve("missing.safetensors");
        assertThatThrownBy(() -> SafetensorsHeader.read(missing))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("NoSuchFileException");
    }

    @Test
    void cutsHugeValuesShortInMessages() {
        String longName = "x".repeat(10_000);
        String json = "{\"" + longName + "\":{\"dtype\":\"" + "Q".repeat(10_000) + "\",\"shape\":[1],"
                + "\"data_offsets\":[0,1]}}";
        assertThatThrownBy(() -> SafetensorsHeader.parse(utf8(json), 1, FILE))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageContaining("unknown dtype")
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(400));
    }

    @Test
    void tensorInfoValidatesItsComponents() {
        TensorInfo info = new TensorInfo("w", SafetensorsDtype.BF16, List.of(2L, 3L), 8, 20);
        assertThat(info.numel()).isEqualTo(6);
        assertThat(info.byteSize()).isEqualTo(12);
        assertThatThrownBy(() -> new TensorInfo("w", SafetensorsDtype.F32, List.of(2L), 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 8");
        assertThatThrownBy(() -> new TensorInfo("w", SafetensorsDtype.F32, List.of(-2L), 0, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[-2]");
        assertThatThrownBy(() -> new TensorInfo("w", SafetensorsDtype.F32, List.of(2L), 8, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[8, 0)");
    }

    private void assertRejected(byte[] fileBytes, String expected) {
        Path file = write(dir.resolve(FILE), fileBytes);
        assertThatThrownBy(() -> SafetensorsHeader.read(file))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContaining(expected);
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
