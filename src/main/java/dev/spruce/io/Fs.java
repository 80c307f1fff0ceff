package dev.spruce.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Small helpers over Hadoop's FileSystem; every spruce file access goes through here. */
public final class Fs {
    private static volatile Configuration defaultConf;

    private Fs() {}

    /** The Hadoop configuration used when a caller has none (Spark code passes its own). */
    public static Configuration conf() {
        Configuration c = defaultConf;
        if (c == null) {
            synchronized (Fs.class) {
                if (defaultConf == null) {
                    defaultConf = new Configuration();
                }
                c = defaultConf;
            }
        }
        return c;
    }

    /** A path string: a URI ({@code hdfs://nn/x}) or a plain local path (made absolute). */
    public static Path path(String location) {
        if (location.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:/.*")) {
            return new Path(location);
        }
        // Not File.toURI(): it appends "/" to an existing directory, which leaves Path.getName() empty.
        return new Path("file", null, new java.io.File(location).getAbsolutePath());
    }

    /** {@link #path} as a string: what a driver hands to executors, whose working directory is another one. */
    public static String absolute(String location) {
        return path(location).toString();
    }

    public static FileSystem fs(Path p) {
        try {
            FileSystem fs = p.getFileSystem(conf());
            if (fs instanceof org.apache.hadoop.fs.LocalFileSystem) {
                // Hidden .crc siblings would clutter model directories and break reads after other tools rewrite
                // a file; local files need no Hadoop checksums.
                fs.setWriteChecksum(false);
                fs.setVerifyChecksum(false);
            }
            return fs;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open file system for " + p, e);
        }
    }

    public static boolean exists(Path p) {
        try {
            return fs(p).exists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check " + p, e);
        }
    }

    public static long length(Path p) {
        try {
            return fs(p).getFileStatus(p).getLen();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + p, e);
        }
    }

    public static FSDataInputStream open(Path p) {
        try {
            return fs(p).open(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + p, e);
        }
    }

    public static byte[] readAll(Path p) {
        try (InputStream in = open(p)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }

    public static String readString(Path p) {
        return new String(readAll(p), StandardCharsets.UTF_8);
    }

    /** Writes a whole file atomically: a temporary sibling, then rename over the target. */
    public static void writeAtomically(Path target, byte[] content) {
        writeAtomically(target, out -> out.write(content));
    }

    public static void writeStringAtomically(Path target, String content) {
        writeAtomically(target, content.getBytes(StandardCharsets.UTF_8));
    }

    /** Something that writes a stream. */
    @FunctionalInterface
    public interface StreamWriter {
        void write(OutputStream out) throws IOException;
    }

    /**
     * Writes a file atomically: the content goes to a hidden temporary sibling, which is renamed over
     * the target only once the writer finished; a failure deletes the temporary file.
     */
    public static void writeAtomically(Path target, StreamWriter writer) {
        try (AtomicFile file = AtomicFile.create(target)) {
            writer.write(file.out());
            file.commit();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Whether {@code p} exists and is a directory. */
    public static boolean isDirectory(Path p) {
        try {
            return fs(p).getFileStatus(p).isDirectory();
        } catch (FileNotFoundException e) {
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check " + p, e);
        }
    }

    /**
     * Fails unless a directory can be created or written at {@code target}: the nearest existing path at or above
     * it must be a directory that takes a new file. The check creates and deletes a hidden probe file, because
     * permission bits tell nothing about root (which ignores them), ACLs, read-only mounts or object stores.
     * {@code what} names the output in the message, e.g. {@code "output"}.
     */
    public static void requireWritableDirectory(Path target, String what) {
        Path existing = target;
        while (!exists(existing) && existing.getParent() != null) {
            existing = existing.getParent();
        }
        if (!isDirectory(existing)) {
            throw new IllegalArgumentException(what + " " + target + (existing.equals(target) ? " is a file"
                    : " cannot be created: " + existing + " is a file") + ", expected a directory");
        }
        Path probe = new Path(existing, ".spruce-write-probe-" + UUID.randomUUID());
        try {
            fs(probe).create(probe, false).close();
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " " + target + " is not writable: cannot create a file in "
                    + existing + " (" + String.valueOf(e.getMessage()).replaceAll("\\s*\\R\\s*", " ") + ")", e);
        } finally {
            deleteQuietly(probe);
        }
    }

    public static void mkdirs(Path dir) {
        try {
            fs(dir).mkdirs(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
    }

    /** The entries of a directory (files and directories), sorted by name; none when it does not exist. */
    public static List<Path> list(Path dir) {
        try {
            FileSystem fs = fs(dir);
            if (!fs.exists(dir)) {
                return List.of();
            }
            return Arrays.stream(fs.listStatus(dir)).map(FileStatus::getPath)
                    .sorted(Comparator.comparing(Path::getName)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    public static void deleteQuietly(Path p) {
        try {
            fs(p).delete(p, true);
        } catch (IOException | RuntimeException ignored) {
            // best effort cleanup of a temporary path
        }
    }

    public static void copy(Path from, Path to) {
        writeAtomically(to, out -> {
            try (InputStream in = open(from)) {
                in.transferTo(out);
            }
        });
    }
}
