package dev.cllm.data;

import java.nio.file.Path;

/**
 * A trajectory file (ours or the authors') is malformed; the message reads {@code FILE:LINE: what is wrong}.
 *
 * <p>For a JSON array, which has no meaningful lines, the location is the array element instead:
 * {@code FILE: element 3 (data_id data_1): what is wrong}.
 */
public class TrajectoryFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long line;

    /** An error at a 1-based line of {@code file}. */
    TrajectoryFormatException(Path file, long line, String what) {
        super(file + ":" + line + ": " + what);
        this.file = file;
        this.line = line;
    }

    /** An error at a location that is not a line ({@code where} is e.g. {@code "element 3 (data_id data_1)"}). */
    TrajectoryFormatException(Path file, String where, String what) {
        super(file + ": " + where + ": " + what);
        this.file = file;
        this.line = -1;
    }

    /** The file that is malformed. */
    public Path file() {
        return file;
    }

    /** The 1-based line of the error, or -1 when the location is an array element rather than a line. */
    public long line() {
        return line;
    }
}
