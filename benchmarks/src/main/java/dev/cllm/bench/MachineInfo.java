package dev.cllm.bench;

import dev.cllm.torch.TorchRuntime;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Properties;

/**
 * The machine and settings a run measured on, for the header of its results.
 *
 * @param cpuModel            the CPU model ({@code /proc/cpuinfo} where readable, else {@code os.arch})
 * @param cpuinfoProcessors   logical processors listed in {@code /proc/cpuinfo}; null where unreadable
 * @param availableProcessors cores visible to the JVM ({@code Runtime.availableProcessors})
 * @param os                  operating system name, version and architecture
 * @param jvm                 JVM name, vendor and version
 * @param jvmFlags            the JVM's input arguments (the benchmark forks inherit them)
 * @param maxHeapBytes        the JVM's maximum heap
 * @param torchThreads        libtorch intra-op threads for fp32 models in the forks (unless a row pins others)
 * @param blasThreads         OpenBLAS threads likewise
 * @param threadSource        where those came from: the system properties or the library's defaults
 * @param torchBuild          the libtorch build (Bytedeco version), where known
 * @param device              the device the forks compute on
 * @param command             the command line that started the run
 * @param date                when the run started (ISO-8601 with offset)
 */
public record MachineInfo(String cpuModel, Integer cpuinfoProcessors, int availableProcessors, String os, String jvm,
                          List<String> jvmFlags, long maxHeapBytes, int torchThreads, int blasThreads,
                          String threadSource, String torchBuild, String device, String command, String date) {

    public MachineInfo {
        jvmFlags = List.copyOf(jvmFlags);
    }

    /**
     * This machine, now. Loads libtorch (as every benchmark fork does) to read the thread settings that apply to
     * fp32 models; bf16 and f16 models get libtorch on every core and OpenBLAS on one unless pinned.
     */
    public static MachineInfo collect(String command, String device) {
        String cpu = null;
        Integer processors = null;
        try {
            int count = 0;
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && cpu == null) {
                    cpu = line.substring(line.indexOf(':') + 1).strip();
                }
                if (line.startsWith("processor")) {
                    count++;
                }
            }
            processors = count > 0 ? count : null;
        } catch (IOException | RuntimeException e) {
            // not Linux: the JVM's view below
        }
        if (cpu == null) {
            cpu = "unknown " + System.getProperty("os.arch") + " CPU";
        }
        TorchRuntime.ensureLoaded();
        boolean pinned = System.getProperty(TorchRuntime.TORCH_THREADS_PROPERTY) != null
                || System.getProperty(TorchRuntime.BLAS_THREADS_PROPERTY) != null;
        String source = pinned ? "system properties " + TorchRuntime.TORCH_THREADS_PROPERTY + "/"
                + TorchRuntime.BLAS_THREADS_PROPERTY : "library defaults for fp32 (bf16/f16: libtorch every core, "
                + "OpenBLAS 1); a row whose threads is not 'default' sets its own";
        String build = pytorchVersion();
        return new MachineInfo(cpu, processors, Runtime.getRuntime().availableProcessors(),
                System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                        + System.getProperty("os.arch"),
                System.getProperty("java.vm.name") + " (" + System.getProperty("java.vm.vendor") + ") "
                        + System.getProperty("java.version"),
                ManagementFactory.getRuntimeMXBean().getInputArguments(), Runtime.getRuntime().maxMemory(),
                TorchRuntime.torchThreads(), TorchRuntime.blasThreads(), source,
                build == null ? null : "Bytedeco pytorch " + build, device, command,
                OffsetDateTime.now().truncatedTo(ChronoUnit.SECONDS).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
    }

    /**
     * The version of the Bytedeco pytorch artifact on the class path, from its Maven metadata (this module does not
     * import libtorch's classes; cllm-torch is the only one that does), or null where that file is absent.
     */
    static String pytorchVersion() {
        try (InputStream in = MachineInfo.class.getClassLoader()
                .getResourceAsStream("META-INF/maven/org.bytedeco/pytorch/pom.properties")) {
            if (in == null) {
                return null;
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (IOException e) {
            return null;
        }
    }

    /** One line for logs and the top of the Markdown report. */
    public String summary() {
        return String.format(java.util.Locale.ROOT, "%s, %d cores visible to the JVM; %s; %s; libtorch/OpenBLAS "
                        + "threads %d/%d (%s); device %s", cpuModel, availableProcessors, os, jvm, torchThreads,
                blasThreads, threadSource.startsWith("system") ? "pinned" : "defaults", device);
    }
}
