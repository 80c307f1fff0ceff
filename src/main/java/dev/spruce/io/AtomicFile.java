package dev.spruce.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.UUID;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FSError;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A file that appears atomically: writes go to a hidden temporary sibling, which {@link #commit()} renames
 * over the target. Closing without a commit (or {@link #abort()}) deletes the temporary file, so a failed
 * writer never leaves a partial file at the target nor a stray temporary file beside it. Used where the
 * content is streamed over many calls; {@link Fs#writeAtomically} covers the one-callback case.
 */
public final class AtomicFile implements AutoCloseable {
    /** {@code .<name>.tmp-<uuid>}: what a write killed before its commit or abort leaves behind. */
    static final Pattern TEMPORARY_NAME = Pattern.compile("\\..+\\.tmp-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}");

    private final FileSystem fs;
    private final Path target;
    private final Path temporary;
    private final OutputStream out;
    private boolean finished;

    private AtomicFile(FileSystem fs, Path target, Path temporary, OutputStream out) {
        this.fs = fs;
        this.target = target;
        this.temporary = temporary;
        this.out = out;
    }

    public static AtomicFile create(Path target) {
        FileSystem fs = Fs.fs(target);
        Path temporary = new Path(target.getParent(), "." + target.getName() + ".tmp-" + UUID.randomUUID());
        try {
            return new AtomicFile(fs, target, temporary, new DiskErrors(fs.create(temporary, true), target));
        } catch (IOException e) {
            Fs.deleteQuietly(temporary);
            throw new UncheckedIOException("cannot create " + temporary + ": " + e.getMessage(), e);
        }
    }

    /** The stream into the temporary file; valid until {@link #commit()} or {@link #abort()}. */
    public OutputStream out() {
        return out;
    }

    public Path target() {
        return target;
    }

    /** Finishes the file and renames it over the target; on failure the temporary file is deleted. */
    public void commit() {
        if (finished) {
            throw new IllegalStateException(target + " was already committed or aborted");
        }
        finished = true;
        boolean published = false;
        try {
            out.close();
            if (fs.exists(target) && !fs.delete(target, false)) {
                throw new IOException("cannot replace " + target);
            }
            if (!fs.rename(temporary, target)) {
                throw new IOException("cannot rename " + temporary + " to " + target);
            }
            published = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (!published) {
                Fs.deleteQuietly(temporary);
            }
        }
    }

    /** Discards everything written; the target is left as it was. Does nothing after a commit. */
    public void abort() {
        if (finished) {
            return;
        }
        finished = true;
        try {
            out.close();
        } catch (IOException | RuntimeException ignored) {
            // the content is being thrown away; only the deletion below matters
        }
        Fs.deleteQuietly(temporary);
    }

    @Override
    public void close() {
        abort();
    }

    /**
     * Hadoop's local file system reports a full disk as {@link FSError}, an Error that would escape every catch of
     * IOException and end the JVM with a raw trace; this turns it into an IOException that names the target.
     */
    private static final class DiskErrors extends FilterOutputStream {
        private final Path target;

        DiskErrors(OutputStream out, Path target) {
            super(out);
            this.target = target;
        }

        private IOException named(FSError e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            return new IOException(target + ": cannot write: " + cause.getMessage(), e);
        }

        @Override
        public void write(int b) throws IOException {
            try {
                out.write(b);
            } catch (FSError e) {
                throw named(e);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (FSError e) {
                throw named(e);
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                out.flush();
            } catch (FSError e) {
                throw named(e);
            }
        }

        @Override
        public void close() throws IOException {
            try {
                out.close();
            } catch (FSError e) {
                throw named(e);
            }
        }
    }
}
