package dev.cllm.architecture;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import dev.cllm.architecture.fixtures.UsesLibtorch;
import dev.cllm.architecture.fixtures.UsesPicocli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static dev.cllm.architecture.Module.API;
import static dev.cllm.architecture.Module.BENCHMARKS;
import static dev.cllm.architecture.Module.CLI;
import static dev.cllm.architecture.Module.DATA;
import static dev.cllm.architecture.Module.EXAMPLES;
import static dev.cllm.architecture.Module.JACOBI;
import static dev.cllm.architecture.Module.LANGCHAIN4J;
import static dev.cllm.architecture.Module.SERVE;
import static dev.cllm.architecture.Module.TORCH;
import static dev.cllm.architecture.Module.TRAIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The module boundaries of README's module table, checked on the compiled classes of every module: which modules and
 * which libraries each may use. Each rule runs on one module's classes, read from its own jar or classes folder.
 */
class ModuleBoundariesTest {
    static final String LIBTORCH = "org.bytedeco..";
    static final String DJL = "ai.djl..";
    static final String JACKSON = "com.fasterxml.jackson..";
    static final String PICOCLI = "picocli..";

    /** The cllm modules each module may use (README's "may import"); its own package is always allowed. */
    static final Map<Module, Set<Module>> MAY_USE = new EnumMap<>(Map.of(
            API, EnumSet.noneOf(Module.class),
            TORCH, EnumSet.of(API),
            JACOBI, EnumSet.of(API),
            DATA, EnumSet.of(API),
            TRAIN, EnumSet.of(API, TORCH, JACOBI, DATA),
            SERVE, EnumSet.of(API, JACOBI),
            LANGCHAIN4J, EnumSet.of(API, SERVE),
            BENCHMARKS, EnumSet.of(API, TORCH, JACOBI, DATA, TRAIN, SERVE),
            EXAMPLES, EnumSet.of(API, TORCH, JACOBI, DATA, TRAIN, SERVE),
            CLI, EnumSet.of(API, TORCH, JACOBI, DATA, TRAIN, SERVE, LANGCHAIN4J, BENCHMARKS, EXAMPLES)));

    /** No class may depend on a class in any of {@code packages}. */
    static ArchRule mayNotUse(String... packages) {
        return noClasses().should().dependOnClassesThat().resideInAnyPackage(packages);
    }

    @ParameterizedTest
    @EnumSource(Module.class)
    void everyModuleHasClassesAndAllOfThemAreInItsPackage(Module module) {
        JavaClasses classes = module.classes();
        assertThat(classes.size()).as(module.directory + ": classes read from " + module.root()).isGreaterThan(0);
        classes().should().resideInAPackage(module.packages()).check(classes);
    }

    @Test
    void apiJacobiAndServeUseNoTensorLibraryTokenizerLibraryOrJackson() {
        for (Module m : List.of(API, JACOBI, SERVE)) {
            mayNotUse(LIBTORCH, DJL, JACKSON).because(m.directory + " works on token ids and interfaces only")
                    .check(m.classes());
        }
    }

    @Test
    void dataUsesNoTensorOrTokenizerLibrary() {
        mayNotUse(LIBTORCH, DJL).because("trajectory datasets are files of token ids").check(DATA.classes());
    }

    @Test
    void onlyTorchAndTrainUseLibtorch() {
        for (Module m : EnumSet.complementOf(EnumSet.of(TORCH, TRAIN))) {
            mayNotUse(LIBTORCH).because("tensors stay inside cllm-torch and cllm-train").check(m.classes());
        }
    }

    @Test
    void onlyTheCliUsesPicocli() {
        for (Module m : EnumSet.complementOf(EnumSet.of(CLI))) {
            mayNotUse(PICOCLI).because("cllm-cli is the one command-line parser").check(m.classes());
        }
    }

    @Test
    void examplesAndBenchmarksDoNotUseTheCli() {
        for (Module m : List.of(EXAMPLES, BENCHMARKS)) {
            mayNotUse(CLI.packages()).because("nothing depends on cllm-cli").check(m.classes());
        }
    }

    @Test
    void theSdkUsesNoApplicationModule() {
        for (Module m : Module.SDK) {
            mayNotUse(EXAMPLES.packages(), BENCHMARKS.packages(), CLI.packages())
                    .because("the published modules stand without the examples, benchmarks and command line")
                    .check(m.classes());
        }
    }

    @ParameterizedTest
    @EnumSource(Module.class)
    void everyModuleUsesOnlyTheModulesItMay(Module module) {
        List<Module> others = Arrays.stream(Module.values())
                .filter(m -> m != module && !MAY_USE.get(module).contains(m)).toList();
        if (others.isEmpty()) {
            return;   // cllm-cli may use every module
        }
        mayNotUse(Module.packagesOf(others)).because(module.directory + " may use " + MAY_USE.get(module))
                .check(module.classes());
    }

    @Test
    void noCyclesBetweenTopLevelPackages() {
        JavaClasses all = Module.all();
        assertThat(all.size()).isEqualTo(Arrays.stream(Module.values()).mapToInt(m -> m.classes().size()).sum());
        slices().matching("dev.cllm.(*)..").should().beFreeOfCycles().check(all);
    }

    /** The rules above would fail on a violation: the same rule on a class that breaks it. */
    @Test
    void theRulesFailOnAViolation() {
        JavaClasses libtorch = new ClassFileImporter().importClasses(UsesLibtorch.class);
        JavaClasses picocli = new ClassFileImporter().importClasses(UsesPicocli.class);
        assertThatThrownBy(() -> mayNotUse(LIBTORCH, DJL, JACKSON).check(libtorch))
                .isInstanceOf(AssertionError.class).hasMessageContaining("org.bytedeco");
        assertThatThrownBy(() -> mayNotUse(PICOCLI).check(picocli))
                .isInstanceOf(AssertionError.class).hasMessageContaining("picocli");
    }
}
