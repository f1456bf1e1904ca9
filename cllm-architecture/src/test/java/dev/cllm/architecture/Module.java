package dev.cllm.architecture;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The modules of this build and the one package each owns (README's module table). A module's classes are read from
 * where its package is on this module's test class path: its jar, or its {@code target/classes} folder.
 */
enum Module {
    API("cllm-api", "dev.cllm.api"),
    TORCH("cllm-torch", "dev.cllm.torch"),
    JACOBI("cllm-jacobi", "dev.cllm.jacobi"),
    DATA("cllm-data", "dev.cllm.data"),
    TRAIN("cllm-train", "dev.cllm.train"),
    SERVE("cllm-serve", "dev.cllm.serve"),
    LANGCHAIN4J("cllm-langchain4j", "dev.cllm.langchain4j"),
    BENCHMARKS("benchmarks", "dev.cllm.bench"),
    EXAMPLES("examples", "dev.cllm.examples"),
    CLI("cllm-cli", "dev.cllm.cli");

    /** The SDK: the published modules, which a user's application depends on. */
    static final List<Module> SDK = List.of(API, TORCH, JACOBI, DATA, TRAIN, SERVE, LANGCHAIN4J);

    /** Every module's classes, read in one import so that dependencies between modules resolve. */
    private static volatile JavaClasses all;

    final String directory;
    final String packageName;

    Module(String directory, String packageName) {
        this.directory = directory;
        this.packageName = packageName;
    }

    /** {@code dev.cllm.x..}: the package and its subpackages, in ArchUnit's syntax. */
    String packages() {
        return packageName + "..";
    }

    /** The classes of every module. */
    static JavaClasses all() {
        if (all == null) {
            synchronized (Module.class) {
                if (all == null) {
                    all = new ClassFileImporter().importUrls(Arrays.stream(values()).map(Module::root).toList());
                }
            }
        }
        return all;
    }

    /** Every class of this module: those read from its jar or classes folder. */
    JavaClasses classes() {
        String root = root().toString();
        String prefix = root.endsWith(".jar") ? "jar:" + root + "!/" : root;   // a jar, or a folder ending in '/'
        return all().that(DescribedPredicate.describe("read from " + root, (JavaClass c) -> c.getSource()
                .map(source -> source.getUri().toString().startsWith(prefix)).orElse(false)));
    }

    /** The jar or folder that holds this module's package; exactly one must. */
    URL root() {
        String path = packageName.replace('.', '/');
        List<URL> found;
        try {
            found = Collections.list(Module.class.getClassLoader().getResources(path));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (found.size() != 1) {
            throw new IllegalStateException(directory + ": expected one location of " + path + " on the class path, "
                    + "found " + found);
        }
        String url = found.get(0).toString();
        String root = url.startsWith("jar:") ? url.substring("jar:".length(), url.indexOf("!/"))
                : url.substring(0, url.length() - (url.endsWith("/") ? path.length() + 1 : path.length()));
        try {
            return new URL(root);
        } catch (MalformedURLException e) {
            throw new IllegalStateException(root, e);
        }
    }

    /** The other modules' package patterns, for rules that name what a module may not use. */
    static String[] packagesOf(List<Module> modules) {
        List<String> out = new ArrayList<>();
        modules.forEach(m -> out.add(m.packages()));
        return out.toArray(String[]::new);
    }
}
