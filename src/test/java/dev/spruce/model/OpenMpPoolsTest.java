package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * libgomp's worker threads inherit the native name of the thread that started the parallel region, so the
 * threads of {@code /proc/self/task} carrying a unique name are that thread plus its OpenMP pool.
 */
public class OpenMpPoolsTest {

    /** Threads of this process whose kernel name ({@code comm}, 15 characters at most) is {@code name}. */
    public static long threadsNamed(String name) {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.filter(t -> {
                try {
                    return Files.readString(t.resolve("comm")).trim().equals(name);
                } catch (IOException e) {
                    return false; // the thread exited while we listed
                }
            }).count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Polls for up to 10 s: pool workers exit shortly after being released, not within the call. */
    static long settle(String name, long expected) throws InterruptedException {
        long n = threadsNamed(name);
        for (int i = 0; i < 200 && n != expected; i++) {
            Thread.sleep(50);
            n = threadsNamed(name);
        }
        return n;
    }

    /** An elementwise op large enough for libtorch to split it over its intra-op threads. */
    static void parallelOp() {
        try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            NDArray x = m.randomUniform(0f, 1f, new Shape(1 << 22));
            x.exp().sum().getFloat();
        }
    }

    @Test
    void releasingFreesTheCallingThreadsWorkersAndTheNextRegionStartsAFreshPool() throws Exception {
        TorchNatives.prepare();
        Engine.getEngine("PyTorch");
        int before = JniUtils.getNumThreads();
        JniUtils.setNumThreads(3);
        try {
            String name = "omp-pool-probe";
            CountDownLatch ran = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch released = new CountDownLatch(1);
            CountDownLatch again = new CountDownLatch(1);
            CountDownLatch ranAgain = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            AtomicReference<Boolean> result = new AtomicReference<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    parallelOp();
                    ran.countDown();
                    release.await();
                    result.set(OpenMpPools.releaseThisThreadsPool());
                    released.countDown();
                    again.await();
                    parallelOp();
                    ranAgain.countDown();
                    finish.await();
                } catch (Throwable e) {
                    failure.set(e);
                    ran.countDown();
                    released.countDown();
                    ranAgain.countDown();
                }
            }, name);
            t.start();
            assertTrue(ran.await(60, TimeUnit.SECONDS));
            // the thread and its two workers, and they stay while the thread lives: that is the idle pool
            assertEquals(3, settle(name, 3), "a 3-thread parallel region leaves the thread plus 2 workers");
            Thread.sleep(300);
            assertEquals(3, threadsNamed(name), "without a release the idle workers stay");
            release.countDown();
            assertTrue(released.await(60, TimeUnit.SECONDS));
            assertEquals(Boolean.TRUE, result.get(), "omp_pause_resource_all was found and returned 0");
            assertEquals(1, settle(name, 1), "after the release only the thread itself is left");
            again.countDown();
            assertTrue(ranAgain.await(60, TimeUnit.SECONDS));
            assertEquals(3, settle(name, 3), "the next parallel region starts a new pool of 2 workers");
            finish.countDown();
            t.join(60_000);
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
        } finally {
            JniUtils.setNumThreads(before);
        }
    }

    @Test
    void theRuntimeFoundIsTheOneLoadedWithLibtorch() {
        TorchNatives.prepare();
        Engine.getEngine("PyTorch");
        Path runtime = OpenMpPools.loadedRuntime().orElseThrow();
        assertTrue(runtime.getFileName().toString().startsWith("libgomp"), runtime.toString());
        assertTrue(Files.isRegularFile(runtime), runtime.toString());
    }
}
