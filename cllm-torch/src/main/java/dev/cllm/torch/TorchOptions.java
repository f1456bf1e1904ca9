package dev.cllm.torch;

import org.bytedeco.pytorch.Device;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Where and in what precision a model runs.
 *
 * @param device {@code auto} (CUDA when available, else CPU), {@code cpu}, {@code cuda} or {@code cuda:N}
 * @param dtype  the compute dtype; {@link ComputeDtype#AUTO} is fp32 on CPU and bf16 on CUDA
 * @param gemm   the kernel for fp32 weight projections on CPU, fixed at load; {@link CpuGemm#BLAS} for a model whose
 *               weights will change (see {@link CpuGemm})
 */
public record TorchOptions(String device, ComputeDtype dtype, CpuGemm gemm) {
    private static final Pattern DEVICE = Pattern.compile("auto|cpu|cuda(:\\d+)?");

    public TorchOptions {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(gemm, "gemm");
        if (!DEVICE.matcher(device).matches()) {
            throw new IllegalArgumentException("unknown device '" + device + "' (auto, cpu, cuda, cuda:N)");
        }
    }

    /** This device and dtype, with {@link CpuGemm#AUTO}. */
    public TorchOptions(String device, ComputeDtype dtype) {
        this(device, dtype, CpuGemm.AUTO);
    }

    /** Automatic device, dtype and CPU GEMM. */
    public static TorchOptions defaults() {
        return new TorchOptions("auto", ComputeDtype.AUTO, CpuGemm.AUTO);
    }

    public TorchOptions withDevice(String newDevice) {
        return new TorchOptions(newDevice, dtype, gemm);
    }

    public TorchOptions withDtype(ComputeDtype newDtype) {
        return new TorchOptions(device, newDtype, gemm);
    }

    public TorchOptions withGemm(CpuGemm newGemm) {
        return new TorchOptions(device, dtype, newGemm);
    }

    /** The concrete device. @throws IllegalStateException if CUDA is requested but not available */
    Device resolveDevice() {
        boolean cuda = TorchRuntime.cudaAvailable();
        if (device.equals("auto")) {
            return new Device(cuda ? "cuda" : "cpu");
        }
        if (device.startsWith("cuda") && !cuda) {
            throw new IllegalStateException("device '" + device + "' requested but CUDA is not available "
                    + "(this needs the CUDA build of libtorch: build with -Pgpu on a machine with a GPU)");
        }
        return new Device(device);
    }
}
