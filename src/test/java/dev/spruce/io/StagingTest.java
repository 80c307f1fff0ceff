package dev.spruce.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Staging directories and temporary files: failed writes remove their own; StaleStaging removes a killed one's. */
class StagingTest {
    @TempDir
    Path dir;

    private static org.apache.hadoop.fs.Path hadoop(Path p) {
        return Fs.path(p.toString());
    }

    private List<String> listing(Path d) throws IOException {
        try (Stream<Path> entries = Files.list(d)) {
            return entries.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aWriteThatFailsLeavesNeitherTargetNorStaging() throws Exception {
        Path target = dir.resolve("model");
        RuntimeException failure = assertThrows(IllegalStateException.class, () -> {
            try (AtomicDirectory out = new AtomicDirectory(hadoop(target), false)) {
                Fs.writeStringAtomically(out.resolve("config.json"), "{}");
                throw new IllegalStateException("the writer failed");
            }
        });
        assertEquals("the writer failed", failure.getMessage());
        assertEquals(List.of(), listing(dir));
    }

    @Test
    void aStagingDirectoryThatCannotBeCreatedIsAnErrorThatLeavesNothing() throws Exception {
        Path file = Files.writeString(dir.resolve("file"), "x");
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> new AtomicDirectory(hadoop(file.resolve("model")), false).close());
        assertTrue(e.getMessage().startsWith("cannot create staging directory " + hadoop(file) + "/.model.staging-"),
                e.getMessage());
        assertEquals(List.of("file"), listing(dir));
    }

    @Test
    void staleStagingIsRemovedAtAnyDepthAndNothingElse() throws Exception {
        String uuid = UUID.randomUUID().toString();
        Path staging = Files.createDirectories(dir.resolve(".model.staging-" + uuid));
        Files.writeString(staging.resolve("model.safetensors"), "partial");
        Path nested = Files.createDirectories(dir.resolve("recover/checkpoints/.step-4.staging-" + uuid));
        Path temporary = Files.writeString(dir.resolve("recover/.metrics.csv.tmp-" + uuid), "step,");
        Path[] kept = {
            Files.createDirectories(dir.resolve(".model.staging-not-a-uuid")),
            Files.createDirectories(dir.resolve("model.staging-" + uuid)),
            Files.writeString(dir.resolve(".plan.json.staging-" + uuid), "a file, not a staging directory"),
            Files.createDirectories(dir.resolve(".scores.tmp-" + uuid)),
            Files.writeString(dir.resolve("recover/metrics.csv"), "step,loss\n")};

        List<org.apache.hadoop.fs.Path> removed = StaleStaging.removeUnder(hadoop(dir));

        assertEquals(List.of(hadoop(staging), hadoop(temporary), hadoop(nested)).stream().map(Object::toString).sorted()
                .toList(), removed.stream().map(Object::toString).sorted().toList());
        for (Path p : List.of(staging, nested, temporary)) {
            assertFalse(Files.exists(p), p + " is still there");
        }
        for (Path p : kept) {
            assertTrue(Files.exists(p), p + " was removed");
        }
        assertEquals(List.of(), StaleStaging.removeUnder(hadoop(dir.resolve("nowhere"))));
    }

    /** root ignores permission bits, so the probe is tested where nobody can write: under a regular file. */
    @Test
    void theWriteProbeFindsTheNearestExistingPathAndLeavesNoProbe() throws Exception {
        Fs.requireWritableDirectory(hadoop(dir.resolve("a/b/c")), "output");
        Fs.requireWritableDirectory(hadoop(dir), "output");
        assertEquals(List.of(), listing(dir), "the probe file was left behind (or a directory created)");
        Path file = Files.writeString(dir.resolve("f"), "x");
        assertEquals("output " + hadoop(file) + "/a/b cannot be created: " + hadoop(file) + " is a file, expected a "
                + "directory", assertThrows(IllegalArgumentException.class,
                () -> Fs.requireWritableDirectory(hadoop(file.resolve("a/b")), "output")).getMessage());
        assertEquals("output " + hadoop(file) + " is a file, expected a directory", assertThrows(
                IllegalArgumentException.class, () -> Fs.requireWritableDirectory(hadoop(file), "output")).getMessage());
    }
}
