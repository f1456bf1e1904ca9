package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import dev.cllm.torch.SafetensorsHeader.TensorInfo;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.bytedeco.pytorch.global.torch.empty;

/**
 * An open safetensors file whose header has been validated; reads tensors on demand into new CPU tensors.
 *
 * <p>Each {@link #read} copies the tensor's bytes straight from the file into the memory of a freshly allocated
 * contiguous tensor (one copy, no Java heap buffer). Reads use positional I/O and may run from several threads, but
 * interrupting a reading thread closes the underlying channel (a {@link FileChannel} rule), after which reads fail.
 * {@link #close()} is idempotent; reading after it throws {@link IllegalStateException}.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Bytes per read call: a direct buffer holds at most 2 GiB, and 256 MiB stays well below that. */
    private static final int MAX_CHUNK_BYTES = 1 << 28;

    private final Path file;
    private final FileChannel channel;
    private final SafetensorsHeader header;
    private volatile boolean closed;

    private SafetensorsFile(Path file, FileChannel channel, SafetensorsHeader header) {
        this.file = file;
        this.channel = channel;
        this.header = header;
    }

    /**
     * Opens a safetensors file and validates its header; the caller closes the result.
     *
     * @throws CheckpointException if the file cannot be opened or its header is malformed
     */
    public static SafetensorsFile open(Path file) {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot open: " + e, e);
        }
        try {
            return new SafetensorsFile(file, channel, SafetensorsHeader.read(channel, file.toString()));
        } catch (RuntimeException e) {
            closeQuietly(channel, e);
            throw e;
        }
    }

    /** The file's path as given to {@link #open}. */
    public Path path() {
        return file;
    }

    /** The validated header. */
    public SafetensorsHeader header() {
        return header;
    }

    /**
     * Reads one tensor into a new contiguous CPU tensor of the stored dtype and shape.
     *
     * <p>The caller owns the result. Like any new tensor it is attached to the innermost open {@code PointerScope}
     * and freed when that scope closes: read weights that must live on outside any scope.
     *
     * @throws CheckpointException if the file has no tensor of that name or ends before the tensor's last byte
     * @throws IllegalStateException if this file is closed
     */
    public Tensor read(String name) {
        ensureOpen();
        TensorInfo info = header.tensors().get(name);
        if (info == null) {
            throw new CheckpointException(file + ": no tensor '" + name + "' (the file has " + header.tensors().size()
                    + " tensors)");
        }
        TorchRuntime.ensureLoaded();
        Tensor tensor = empty(info.shapeArray(), new TensorOptions(info.dtype().scalarType()), null);
        readInto(tensor, info);
        return tensor;
    }

    /** Closes the file; idempotent. Tensors already read stay valid. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot close: " + e, e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + file + ", " + header.tensors().size() + " tensors]";
    }

    private void readInto(Tensor tensor, TensorInfo info) {
        long byteSize = info.byteSize();
        if (byteSize == 0) {
            return; // a zero-size tensor may have no memory at all
        }
        Pointer base = tensor.data_ptr();
        long start = header.dataStart() + info.begin();
        try {
            for (long done = 0; done < byteSize; ) {
                int chunk = (int) Math.min(byteSize - done, MAX_CHUNK_BYTES);
                ByteBuffer target = window(base, done, chunk);
                while (target.hasRemaining()) {
                    if (channel.read(target, start + done + target.position()) < 0) {
                        throw new CheckpointException(String.format("%s: tensor '%s': file ends at byte %d, before"
                                + " the tensor's end at byte %d (truncated?)", file, info.name(),
                                start + done + target.position(), start + byteSize));
                    }
                }
                done += chunk;
            }
        } catch (IOException e) {
            throw new CheckpointException(file + ": tensor '" + info.name() + "': cannot read: " + e, e);
        }
    }

    /**
     * A buffer over {@code length} bytes of native memory starting {@code offset} bytes past {@code memory}'s address,
     * with position 0. (A JavaCPP pointer's own position would instead yield a buffer over [0, position + length),
     * whose int capacity overflows past 2 GiB.)
     */
    static ByteBuffer window(Pointer memory, long offset, int length) {
        return new BytePointer(memory).getPointer(offset).limit(length).asByteBuffer();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(file + " is closed");
        }
    }

    private static void closeQuietly(FileChannel channel, Exception cause) {
        try {
            channel.close();
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }
}
