package dev.cllm.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.cllm.api.TokenIds;

import java.io.IOException;
import java.util.Arrays;

/** The package's one Jackson setup and the token-id arrays every format reads and writes. */
final class Json {
    /** Strict duplicate detection; streams are never closed by Jackson (the caller owns them). */
    static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(StreamReadFeature.AUTO_CLOSE_SOURCE)
            .disable(StreamWriteFeature.AUTO_CLOSE_TARGET)
            .build();
    static final ObjectMapper MAPPER = new ObjectMapper(FACTORY);
    /** Reads one whole line: trailing content after the value is an error. */
    static final ObjectReader LINE = MAPPER.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Json() {
    }

    /** Whether {@code bytes[0, length)} hold exactly one complete JSON value. */
    static boolean isCompleteValue(byte[] bytes, int length) {
        try (JsonParser p = FACTORY.createParser(bytes, 0, length)) {
            if (p.nextToken() == null) {
                return false;
            }
            p.skipChildren();
            return p.nextToken() == null;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Reads an array of non-negative int token ids at the parser's current {@code START_ARRAY}.
     *
     * @throws SchemaException naming the field, the index and the value
     */
    static TokenIds readIds(JsonParser p, String field) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new SchemaException("field '" + field + "' must be an array of token ids, got " + describe(p));
        }
        int[] ids = new int[64];
        int n = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw new SchemaException("field '" + field + "' element " + n + " must be a token id, got "
                        + describe(p));
            }
            ids = n == ids.length ? Arrays.copyOf(ids, 2 * n) : ids;
            ids[n] = tokenId(p, field, n);
            n++;
        }
        return TokenIds.copyOf(ids, 0, n);
    }

    /** The int token id at the parser's current {@code VALUE_NUMBER_INT}. */
    static int tokenId(JsonParser p, String field, int index) throws IOException {
        if (p.getNumberType() != JsonParser.NumberType.INT || p.getIntValue() < 0) {
            throw new SchemaException("field '" + field + "' element " + index + " is not a token id: "
                    + p.getText());
        }
        return p.getIntValue();
    }

    /** Writes {@code ids} as a JSON array. */
    static void writeIds(JsonGenerator g, TokenIds ids) throws IOException {
        int[] a = ids.toArray();
        g.writeArray(a, 0, a.length);
    }

    /** The current token for an error message: {@code a string "abc"}, {@code an object}, ... */
    static String describe(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        if (t == null) {
            return "nothing";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string \"" + abbreviate(p.getText()) + "\"";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "the number " + p.getText();
            case VALUE_TRUE, VALUE_FALSE -> "the boolean " + p.getText();
            case VALUE_NULL -> "null";
            default -> t.asString() == null ? t.name() : t.asString();
        };
    }

    static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    /** Jackson's message without its source location (we name file and line ourselves). */
    static String syntaxMessage(JsonProcessingException e) {
        String m = e.getOriginalMessage();
        int cut = m.indexOf('\n');
        return cut < 0 ? m : m.substring(0, cut);
    }

    /** A value of the wrong shape; the caller adds the file and line. */
    static final class SchemaException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SchemaException(String message) {
            super(message);
        }
    }
}
