package dev.spruce.model;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frees the OpenMP worker pool that the calling thread's parallel regions created.
 *
 * <p>libtorch's CPU kernels run their parallel loops with OpenMP, and GNU libgomp keeps one pool of
 * {@code threads - 1} workers for every thread that ever started a parallel region, alive until that thread
 * exits. Spark runs tasks on a cached pool of executor threads, so after a few stages an executor holds one
 * idle OpenMP pool per task thread it ever used. Those idle workers are not free: libgomp lets the workers
 * of the active pool spin only while the process has no more OpenMP threads than CPUs, and once the idle
 * pools push the count past that, every worker sleeps in the kernel after each operation and has to be woken
 * for the next one. docs/BENCHMARKS.md has the measurements. Releasing the
 * pool when a task ends keeps the count at what the running tasks use.
 *
 * <p>The release calls OpenMP 5.0's {@code omp_pause_resource_all(omp_pause_soft)} in the OpenMP runtime
 * libtorch loaded (found in {@code /proc/self/maps}); in libgomp it frees the pool of the calling thread only,
 * and the thread's next parallel region starts a new one. Where no OpenMP runtime is loaded, or it lacks the
 * call, releasing does nothing.
 */
public final class OpenMpPools {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    /** {@code omp_pause_soft} from omp.h: free threads and other resources, keep the runtime usable. */
    private static final int OMP_PAUSE_SOFT = 1;
    private static final List<String> RUNTIMES = List.of("libgomp", "libomp", "libiomp5");
    /** Null until the runtime was found; empty when it has no pause call. */
    private static volatile Optional<Function> pause;

    private OpenMpPools() {}

    /**
     * Frees the calling thread's OpenMP pool. Must not be called inside a parallel region (spruce calls it at
     * the end of a Spark task). Returns false where there was nothing to call.
     */
    public static boolean releaseThisThreadsPool() {
        Optional<Function> f = pauseFunction();
        if (f.isEmpty()) {
            return false;
        }
        int rc = f.get().invokeInt(new Object[] {OMP_PAUSE_SOFT});
        if (rc != 0) {
            LOG.debug("omp_pause_resource_all returned {}", rc);
        }
        return rc == 0;
    }

    /** The OpenMP runtime that this process loaded, preferring the one beside libtorch; empty if none. */
    public static Optional<Path> loadedRuntime() {
        List<String> maps;
        try {
            maps = Files.readAllLines(Path.of("/proc/self/maps"));
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty(); // not Linux: no libgomp pools to free either
        }
        Path torchDir = TorchNatives.libraryDir();
        Path found = null;
        for (String line : maps) {
            int slash = line.indexOf('/');
            if (slash < 0) {
                continue;
            }
            Path file = Path.of(line.substring(slash).trim());
            String name = file.getFileName().toString();
            if (RUNTIMES.stream().noneMatch(name::startsWith) || !name.contains(".so")) {
                continue;
            }
            if (torchDir != null && file.startsWith(torchDir)) {
                return Optional.of(file);
            }
            if (found == null) {
                found = file;
            }
        }
        return Optional.ofNullable(found);
    }

    private static Optional<Function> pauseFunction() {
        Optional<Function> f = pause;
        if (f != null) {
            return f;
        }
        synchronized (OpenMpPools.class) {
            if (pause == null) {
                Optional<Path> runtime = loadedRuntime();
                if (runtime.isEmpty()) {
                    // libtorch loads its OpenMP runtime with itself: until then there is no pool to free, so look
                    // again on the next call instead of caching the miss
                    return Optional.empty();
                }
                pause = lookUp(runtime.get());
            }
            return pause;
        }
    }

    private static Optional<Function> lookUp(Path runtime) {
        try {
            Function f = NativeLibrary.getInstance(runtime.toString()).getFunction("omp_pause_resource_all");
            LOG.debug("OpenMP pools are released at task end through {}", runtime);
            return Optional.of(f);
        } catch (UnsatisfiedLinkError e) {
            LOG.info("OpenMP runtime {} has no omp_pause_resource_all: idle pools of finished tasks stay alive",
                    runtime);
            return Optional.empty();
        }
    }
}
