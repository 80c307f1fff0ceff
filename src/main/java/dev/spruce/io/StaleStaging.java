package dev.spruce.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Removes what killed writes left behind: the hidden staging directories of {@link AtomicDirectory}
 * ({@code .<name>.staging-<uuid>}) and temporary files of {@link AtomicFile} ({@code .<name>.tmp-<uuid>}). A
 * failed write removes its own; only a process that was killed (or lost its executor node, or its file system)
 * leaves one, and nothing else ever reads or removes it. Call it only when no other process writes under the
 * directory, such as at the start of a resumed run.
 */
public final class StaleStaging {
    private StaleStaging() {}

    /** Removes every stale staging directory and temporary file under {@code root}, at any depth; returns them. */
    public static List<Path> removeUnder(Path root) {
        List<Path> removed = new ArrayList<>();
        FileSystem fs = Fs.fs(root);
        try {
            if (fs.getFileStatus(root).isDirectory()) {
                removeUnder(fs, root, removed);
            }
        } catch (FileNotFoundException e) {
            return removed;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
        return removed;
    }

    private static void removeUnder(FileSystem fs, Path dir, List<Path> removed) throws IOException {
        for (FileStatus entry : fs.listStatus(dir)) {
            String name = entry.getPath().getName();
            boolean stale = entry.isDirectory() ? AtomicDirectory.STAGING_NAME.matcher(name).matches()
                    : AtomicFile.TEMPORARY_NAME.matcher(name).matches();
            if (stale) {
                if (!fs.delete(entry.getPath(), true)) {
                    throw new IOException("cannot remove stale " + entry.getPath());
                }
                removed.add(entry.getPath());
            } else if (entry.isDirectory()) {
                removeUnder(fs, entry.getPath(), removed);
            }
        }
    }
}
