package dev.cllm.data;

import java.nio.file.Path;

/** A line of a prompt file is malformed; the message reads {@code FILE:LINE: what is wrong}. */
public class PromptFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long line;

    PromptFormatException(Path file, long line, String what) {
        super(file + ":" + line + ": " + what);
        this.file = file;
        this.line = line;
    }

    /** The file that is malformed. */
    public Path file() {
        return file;
    }

    /** The 1-based line of the error. */
    public long line() {
        return line;
    }
}
