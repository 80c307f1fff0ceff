package dev.spruce.model;

import ai.djl.util.ClassLoaderUtils;
import ai.djl.util.Platform;
import ai.djl.util.Utils;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes DJL load the libtorch that is bundled in the class path, never a downloaded one.
 *
 * <p>DJL 0.33.0 accepts a bundled CUDA libtorch ({@code pytorch-native-cu124}) only when its own CUDA probe
 * ({@code CudaUtils}, which needs a {@code libcudart.so} on the system library path) reports a GPU with CUDA
 * &ge; 12.4; otherwise it treats the jar as absent and downloads a CPU libtorch, which fails offline. That
 * happens with the CUDA build on a driver or build machine without a GPU, and on GPU nodes that have the
 * driver but no CUDA toolkit. A CUDA libtorch runs its CPU kernels without a GPU, so in those cases this class
 * unpacks the bundled files into DJL's own cache layout and points DJL at them ({@code PYTORCH_LIBRARY_PATH},
 * {@code PYTORCH_FLAVOR}); where DJL would pick the bundled library itself it does nothing.
 * {@link #prepare()} must run before the first DJL engine use of the JVM: {@code LlamaModel.load}, the Spark
 * task device and the version record call it.
 */
public final class TorchNatives {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    private static final String NATIVE_PROPERTIES = "native/lib/pytorch.properties";
    private static final String JNI_PROPERTIES = "jnilib/pytorch.properties";
    private static final String TORCH = System.mapLibraryName("torch");
    /** Bundled CUDA libraries that link the driver ({@code libcuda.so.1}) directly. */
    private static final java.util.Set<String> NEEDS_DRIVER = java.util.Set.of("libcaffe2_nvrtc.so");
    private static volatile Bundled prepared;
    private static volatile Path libraryDir;

    private TorchNatives() {}

    /** The libtorch bundled in a {@code pytorch-native-*} jar: {@code native/lib/pytorch.properties}. */
    public record Bundled(String version, String flavor, String classifier, List<String> libraries, URL source) {
        /** A CUDA build (flavor cu124 and the like). */
        public boolean cuda() {
            return flavor.startsWith("cu");
        }

        /** The folder DJL unpacks this library into: {@code <cache>/pytorch/<version>-<flavor>-<classifier>}. */
        public Path cacheDir() {
            return Utils.getEngineCacheDir("pytorch").resolve(version + '-' + flavor + '-' + classifier);
        }
    }

    /**
     * Ensures DJL will load the bundled libtorch; idempotent and cheap after the first call. Returns the bundled
     * library, or throws {@link IllegalStateException} when the class path has none for this platform (DJL would
     * then download one) or its JNI library does not match DJL (DJL would download a JNI library).
     */
    public static Bundled prepare() {
        Bundled b = prepared;
        if (b != null) {
            return b;
        }
        synchronized (TorchNatives.class) {
            if (prepared == null) {
                prepared = doPrepare();
            }
            return prepared;
        }
    }

    /** The bundled libtorch for this platform, or null when the class path has none. */
    public static Bundled bundled() {
        String classifier = systemClassifier();
        for (URL url : resources(NATIVE_PROPERTIES)) {
            Properties p = load(url);
            if (p.getProperty("placeholder") != null || !classifier.equals(p.getProperty("classifier"))) {
                continue;
            }
            String libs = p.getProperty("libraries", "");
            List<String> libraries = libs.isEmpty() ? List.of() : List.of(libs.split(","));
            return new Bundled(p.getProperty("version"), p.getProperty("flavor"), classifier, libraries, url);
        }
        return null;
    }

    /** The JNI version of the {@code pytorch-jni} jar in the class path ({@code 2.5.1-0.33.0}), or null. */
    public static String jniVersion() {
        List<URL> urls = resources(JNI_PROPERTIES);
        return urls.isEmpty() ? null : load(urls.get(0)).getProperty("jni_version");
    }

    private static Bundled doPrepare() {
        Bundled b = bundled();
        if (b == null) {
            throw new IllegalStateException("no libtorch for " + systemClassifier() + " in the class path (a "
                    + "pytorch-native-cpu or pytorch-native-cu124 jar); DJL would try to download one");
        }
        checkJni(b);
        if (Utils.getEnvOrSystemProperty("PYTORCH_LIBRARY_PATH") != null) {
            return b; // the user chose a libtorch explicitly
        }
        if (!Platform.detectPlatform("pytorch").isPlaceholder()) {
            return b; // DJL matched the bundled jar and unpacks it itself
        }
        Path dir = b.cacheDir();
        if (!Files.isRegularFile(dir.resolve(TORCH))) {
            unpack(b, dir);
        }
        if (b.cuda() && !cudaDriverPresent()) {
            dir = withoutDriverLibraries(dir);
        }
        System.setProperty("PYTORCH_LIBRARY_PATH", dir.toString());
        System.setProperty("PYTORCH_FLAVOR", b.flavor());
        libraryDir = dir;
        LOG.info("libtorch: DJL does not match the bundled {} {} to this machine (no GPU or no system CUDA "
                + "runtime); loading it from {}", b.flavor(), b.version(), dir);
        return b;
    }

    /**
     * The folder libtorch is loaded from when {@link #prepare()} chose it, else null (DJL's own choice, which
     * for a bundled jar is {@link Bundled#cacheDir()}).
     */
    public static Path libraryDir() {
        return libraryDir;
    }

    /** The NVIDIA driver's {@code libcuda.so.1}: present on GPU nodes, absent on CPU-only machines. */
    private static boolean cudaDriverPresent() {
        try {
            com.sun.jna.NativeLibrary.getInstance(System.getProperty("os.name").startsWith("Win") ? "nvcuda"
                    : "libcuda.so.1");
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    /**
     * The bundled CUDA files minus the few that link the driver directly ({@code libcaffe2_nvrtc.so}, which DJL
     * loads eagerly for a CUDA flavor), as hard links beside the full folder: without a driver libtorch then
     * loads and runs on the CPU; with one, DJL's own folder is used.
     */
    private static Path withoutDriverLibraries(Path full) {
        Path dir = full.resolveSibling(full.getFileName() + "-nodriver");
        if (Files.isRegularFile(dir.resolve(TORCH))) {
            return dir;
        }
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory(full.getParent(), "spruce-tmp");
            try (Stream<Path> files = Files.list(full)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    if (NEEDS_DRIVER.contains(name) || name.endsWith(System.mapLibraryName("djl_torch"))) {
                        continue;
                    }
                    try {
                        Files.createLink(tmp.resolve(name), f);
                    } catch (UnsupportedOperationException | IOException e) {
                        Files.copy(f, tmp.resolve(name));
                    }
                }
            }
            moveInPlace(tmp, dir);
            tmp = null;
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + dir, e);
        } finally {
            if (tmp != null) {
                deleteTree(tmp);
            }
        }
    }

    private static void moveInPlace(Path tmp, Path dir) throws IOException {
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException
                 | java.nio.file.DirectoryNotEmptyException e) {
            // Another executor JVM on this node got there first; the move of a full folder is atomic.
            if (!Files.isRegularFile(dir.resolve(TORCH))) {
                throw e;
            }
            deleteTree(tmp);
        }
    }

    /** DJL downloads a JNI library when the bundled one is not {@code <libtorch version>-<DJL version>}. */
    private static void checkJni(Bundled b) {
        String jni = jniVersion();
        String libtorch = b.version().replaceFirst("-\\d+$", "");
        String djl = Platform.fromSystem("pytorch").getApiVersion();
        String expected = libtorch + '-' + djl;
        if (jni == null || !jni.startsWith(expected)) {
            throw new IllegalStateException("pytorch-jni " + jni + " does not match libtorch " + libtorch
                    + " and DJL " + djl + " (expected pytorch-jni:" + expected
                    + "); DJL would try to download a JNI library");
        }
    }

    private static void unpack(Bundled b, Path dir) {
        String prefix = "pytorch/" + b.flavor() + '/' + b.classifier() + '/';
        Path tmp = null;
        try {
            Files.createDirectories(dir.getParent());
            tmp = Files.createTempDirectory(dir.getParent(), "spruce-tmp");
            for (String lib : b.libraries()) {
                try (InputStream in = ClassLoaderUtils.getContextClassLoader().getResourceAsStream(prefix + lib)) {
                    if (in == null) {
                        throw new IllegalStateException("libtorch " + b.flavor() + ": " + prefix + lib
                                + " is listed in " + b.source() + " but missing from the class path");
                    }
                    Files.copy(in, tmp.resolve(lib), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            moveInPlace(tmp, dir);
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack libtorch " + b.flavor() + " into " + dir, e);
        } finally {
            if (tmp != null) {
                deleteTree(tmp);
            }
        }
    }

    private static void deleteTree(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Collections.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a leftover temporary folder is harmless
        }
    }

    private static String systemClassifier() {
        String os = System.getProperty("os.name");
        String prefix = os.startsWith("Win") ? "win" : os.startsWith("Mac") ? "osx" : "linux";
        String arch = System.getProperty("os.arch");
        return prefix + '-' + ("amd64".equals(arch) ? "x86_64" : arch);
    }

    private static List<URL> resources(String name) {
        try {
            return Collections.list(ClassLoaderUtils.getContextClassLoader().getResources(name));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + name + " in the class path", e);
        }
    }

    private static Properties load(URL url) {
        Properties p = new Properties();
        try (InputStream in = url.openStream()) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + url, e);
        }
        return p;
    }

    /** The file names in DJL's libtorch cache, relative to it, for checking that nothing was downloaded. */
    public static List<String> cacheListing() {
        Path cache = Utils.getEngineCacheDir("pytorch");
        List<String> names = new ArrayList<>();
        if (!Files.isDirectory(cache)) {
            return names;
        }
        try (Stream<Path> s = Files.walk(cache)) {
            s.filter(Files::isRegularFile).forEach(f -> names.add(cache.relativize(f).toString()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + cache, e);
        }
        Collections.sort(names);
        return names;
    }
}
