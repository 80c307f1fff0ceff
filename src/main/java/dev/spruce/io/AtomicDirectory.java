package dev.spruce.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.UUID;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * An output directory that appears atomically: files are written into a hidden staging sibling, and
 * {@link #commit()} renames it to the final name. Closing without commit removes the staging directory,
 * so a failed run never leaves a half-written output behind. Only a killed process leaves a staging directory;
 * {@link StaleStaging} removes those when a run is resumed.
 */
public final class AtomicDirectory implements AutoCloseable {
    /** {@code .<name>.staging-<uuid>}: what a write killed before its commit or close leaves behind. */
    static final Pattern STAGING_NAME = Pattern.compile("\\..+\\.staging-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}");

    private final Path target;
    private final Path staging;
    private final FileSystem fs;
    private boolean committed;

    public AtomicDirectory(Path target, boolean overwrite) {
        this.target = target;
        this.fs = Fs.fs(target);
        this.staging = new Path(target.getParent(), "." + target.getName() + ".staging-" + UUID.randomUUID());
        try {
            if (fs.exists(target) && !overwrite) {
                throw new IllegalArgumentException("output " + target + " already exists (set overwrite to replace it)");
            }
            if (!fs.mkdirs(staging)) {
                throw new IOException("mkdirs returned false");
            }
        } catch (IOException e) {
            Fs.deleteQuietly(staging);
            throw new UncheckedIOException("cannot create staging directory " + staging, e);
        }
    }

    /** The directory to write into until {@link #commit()}. */
    public Path dir() {
        return staging;
    }

    public Path resolve(String name) {
        return new Path(staging, name);
    }

    public Path target() {
        return target;
    }

    public void commit() {
        try {
            if (fs.exists(target) && !fs.delete(target, true)) {
                throw new IOException("cannot replace " + target);
            }
            if (!fs.rename(staging, target)) {
                throw new IOException("cannot rename " + staging + " to " + target);
            }
            committed = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot publish " + target + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (!committed) {
            Fs.deleteQuietly(staging);
        }
    }
}
