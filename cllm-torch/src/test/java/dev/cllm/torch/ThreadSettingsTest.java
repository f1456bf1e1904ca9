package dev.cllm.torch;

import dev.cllm.torch.fixtures.ChildJvm;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Thread counts are process-wide, so each case runs in a fresh JVM: they are set once (by the application, or at the
 * first CPU model load from the system properties or that load's dtype defaults) with one INFO line, and a later load
 * in another dtype never changes them.
 */
class ThreadSettingsTest {
    private static final int CORES = Runtime.getRuntime().availableProcessors();

    @Test
    void theFirstLoadChoosesAndALaterLoadInAnotherDtypeKeepsTheCounts() {
        ChildJvm.Result r = ChildJvm.run(Steps.class, List.of(), 120, "load:f32", "load:bf16");
        assertSucceeded(r);
        String fp32 = counts(ScalarType.Float);
        assertThat(r.stdout().lines()).containsExactly("load:f32 " + fp32 + " " + fp32, "load:bf16 " + fp32 + " " + fp32);
        assertThat(infoLines(r)).hasSize(1).first().asString().contains("defaults for fp32")
                .contains(TorchRuntime.TORCH_THREADS_PROPERTY).contains("TorchRuntime.setThreads");
    }

    @Test
    void aBf16FirstLoadChoosesItsDefaultsAndSystemPropertiesWinOverThem() {
        String bf16 = counts(ScalarType.BFloat16);
        ChildJvm.Result r = ChildJvm.run(Steps.class, List.of(), 120, "load:bf16", "load:f32");
        assertSucceeded(r);
        assertThat(r.stdout().lines()).containsExactly("load:bf16 " + bf16 + " " + bf16, "load:f32 " + bf16 + " " + bf16);

        ChildJvm.Result pinned = ChildJvm.run(Steps.class, List.of("-D" + TorchRuntime.TORCH_THREADS_PROPERTY + "=1",
                "-D" + TorchRuntime.BLAS_THREADS_PROPERTY + "=1"), 120, "load:bf16", "load:f32");
        assertSucceeded(pinned);
        assertThat(pinned.stdout().lines()).containsExactly("load:bf16 1/1 1/1", "load:f32 1/1 1/1");
        assertThat(infoLines(pinned)).hasSize(1).first().asString().contains("from the system properties");
    }

    @Test
    void theApplicationsChoiceStandsAndAQueryBeforeAnyLoadFixesTheFp32Defaults() {
        String fp32 = counts(ScalarType.Float);
        ChildJvm.Result r = ChildJvm.run(Steps.class, List.of(), 120, "query", "load:bf16", "set:1/1", "load:f32",
                "load:bf16");
        assertSucceeded(r);
        assertThat(r.stdout().lines()).containsExactly("query " + fp32 + " " + fp32, "load:bf16 " + fp32 + " " + fp32,
                "set:1/1 1/1 1/1", "load:f32 1/1 1/1", "load:bf16 1/1 1/1");
    }

    @Test
    void bothPoolsAboveOneThreadAreWarnedAboutOnceASettingButStillApplied() {
        ChildJvm.Result r = ChildJvm.run(Steps.class, List.of(), 120, "set:2/2", "set:2/2", "set:1/2", "set:3/2");
        assertSucceeded(r);
        assertThat(r.stdout().lines()).containsExactly("set:2/2 2/2 2/2", "set:2/2 2/2 2/2", "set:1/2 1/2 1/2",
                "set:3/2 3/2 3/2");
        List<String> warnings = r.stderrLines().stream().filter(l -> l.contains("WARN dev.cllm.torch.TorchRuntime"))
                .toList();
        assertThat(warnings).hasSize(2);
        assertThat(warnings.get(0)).contains("libtorch 2 and OpenBLAS 2 threads").contains("oversubscribe");
        assertThat(warnings.get(1)).contains("libtorch 3 and OpenBLAS 2 threads");
    }

    @Test
    void theCpuKernelsAreReportedAndFollowTheEnvironmentVariablesThatChooseThem() {
        ChildJvm.Result r = ChildJvm.run(Steps.class, List.of(), 120, "set:1/1", "kernels", "load:f32");
        assertSucceeded(r);
        List<String> lines = r.stdout().lines().toList();
        assertThat(lines.get(1)).matches("kernels ATen [A-Z0-9_]+, OpenBLAS \\S+");
        assertThat(lines.get(2)).as("asking changes no thread count").isEqualTo("load:f32 1/1 1/1");

        ChildJvm.Result chosen = ChildJvm.run(Steps.class, Map.of("ATEN_CPU_CAPABILITY", "default",
                "OPENBLAS_CORETYPE", "Sandybridge"), List.of(), 120, "kernels");
        assertSucceeded(chosen);
        assertThat(chosen.stdout().lines()).containsExactly("kernels ATen DEFAULT, OpenBLAS Sandybridge");
    }

    /** {@code torch/blas} as the defaults for {@code dtype} on this machine. */
    private static String counts(ScalarType dtype) {
        return ThreadDefaults.torchThreads(CORES, dtype) + "/" + ThreadDefaults.blasThreads(CORES, dtype);
    }

    private static List<String> infoLines(ChildJvm.Result r) {
        return r.stderrLines().stream().filter(l -> l.contains("INFO dev.cllm.torch.TorchRuntime")).toList();
    }

    private static void assertSucceeded(ChildJvm.Result r) {
        assertThat(r.exitCode()).as("exit code; stderr:%n%s", r.stderr()).isZero();
    }

    /**
     * The child: runs each step ({@code load:f32}, {@code load:bf16}: a tiny random model on CPU computing in that
     * dtype; {@code set:T/B}; {@code query}) and prints the step, the counts TorchRuntime reports and the counts
     * libtorch and OpenBLAS report; for the step {@code kernels} it prints {@link TorchRuntime#cpuKernels()} instead.
     */
    public static final class Steps {
        public static void main(String[] args) {
            for (String step : args) {
                if (step.equals("kernels")) {
                    System.out.println("kernels " + TorchRuntime.cpuKernels());
                    continue;
                }
                if (step.startsWith("load:")) {
                    ComputeDtype dtype = ComputeDtype.parse(step.substring(5));
                    LlamaModel.random(TinyCheckpoints.base().build(), 1,
                            new TorchOptions("cpu", dtype, CpuGemm.BLAS)).close();
                } else if (step.startsWith("set:")) {
                    String[] tb = step.substring(4).split("/");
                    TorchRuntime.setThreads(Integer.parseInt(tb[0]), Integer.parseInt(tb[1]));
                }
                System.out.println(step + " " + TorchRuntime.torchThreads() + "/" + TorchRuntime.blasThreads() + " "
                        + torch.get_num_threads() + "/" + org.bytedeco.openblas.global.openblas_nolapack
                        .blas_get_num_threads());
            }
        }
    }
}
