package dev.spruce.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.io.Fs;
import dev.spruce.io.StaleStaging;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The output directory of a run. Each finished stage leaves {@code _stages/<stage>.done}; {@code run.json}
 * records the configuration, versions, data fingerprint, seeds and stage timings. The directory itself is
 * created only when the first stage has its outputs, so a run that fails at once leaves nothing.
 *
 * <p>Opening checks the output before any compute: it must not be a regular file, it must be writable (a
 * probe file, see {@link Fs#requireWritableDirectory}), and {@code output.overwrite} replaces only an earlier
 * spruce run, recognised by {@code run.json} or {@code _stages/}. A resumed run first removes the staging
 * directories and temporary files that killed writes left inside it ({@link StaleStaging}).
 */
public final class RunDirectory {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String STAGES = "_stages";
    private static final String RUN_FILE = "run.json";

    private final Path root;
    private final Map<String, Object> facts = new LinkedHashMap<>();
    private final Map<String, Double> stageSeconds = new LinkedHashMap<>();

    private RunDirectory(Path root) {
        this.root = root;
    }

    /**
     * Opens the output of a run: with {@code resume} an existing directory is continued; with
     * {@code overwrite} an earlier run is replaced; otherwise an existing one is an error. Every refusal
     * happens here, before any Spark work, and leaves the path as it was.
     */
    public static RunDirectory open(Path root, boolean resume, boolean overwrite) {
        requireNotAFile(root);
        boolean exists = Fs.exists(root);
        if (exists && !resume) {
            if (!overwrite) {
                throw new IllegalArgumentException("output " + root + " already exists; use --resume to continue it or "
                        + "set output.overwrite = true to replace it");
            }
            if (!isRun(root)) {
                throw new IllegalArgumentException("output " + root + " is not a spruce run directory (it has neither "
                        + RUN_FILE + " nor " + STAGES + "/), and output.overwrite = true replaces only an earlier run; "
                        + "choose another output.dir or remove it yourself");
            }
        }
        // Replacing a run needs its parent; continuing one needs the directory itself.
        if (exists && !resume) {
            Fs.requireWritableDirectory(root.getParent(), "output " + root + ": its parent");
        } else {
            Fs.requireWritableDirectory(root, "output");
        }
        if (exists && !resume) {
            delete(root);
        }
        RunDirectory run = new RunDirectory(root);
        if (resume && exists) {
            run.removeStaleStaging();
        }
        if (resume && Fs.exists(run.runFile())) {
            run.loadTimings();
        }
        return run;
    }

    /**
     * Continues a run directory that an earlier command of the same run created (or starts one): later stages
     * of a pipeline ({@code recover}, {@code evaluate}) add to the output of {@code prune}. With {@code resume},
     * leftovers of killed writes are removed first. Checked as {@link #open} checks.
     */
    public static RunDirectory continueRun(Path root, boolean resume) {
        requireNotAFile(root);
        Fs.requireWritableDirectory(root, "output");
        RunDirectory run = new RunDirectory(root);
        if (resume) {
            run.removeStaleStaging();
        }
        if (Fs.exists(run.runFile())) {
            run.loadTimings();
        }
        return run;
    }

    private static void requireNotAFile(Path root) {
        if (Fs.exists(root) && !Fs.isDirectory(root)) {
            throw new IllegalArgumentException("output " + root + " is a file, expected a spruce run directory (or a "
                    + "path that does not exist yet)");
        }
    }

    /** Whether {@code dir} holds the markers every spruce run writes. */
    static boolean isRun(Path dir) {
        return Fs.exists(new Path(dir, RUN_FILE)) || Fs.isDirectory(new Path(dir, STAGES));
    }

    private static void delete(Path root) {
        try {
            if (!Fs.fs(root).delete(root, true)) {
                throw new IOException("delete returned false");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot replace output " + root + ": " + e.getMessage(), e);
        }
    }

    private void removeStaleStaging() {
        for (Path p : StaleStaging.removeUnder(root)) {
            LOG.info("resume: removed {}, left by a write that did not finish", p);
        }
    }

    /**
     * Marks the directory as a spruce run ({@code _stages/}) before a stage writes its first output, so a run
     * killed before its first marker is still one that {@code --resume} and {@code output.overwrite} recognise.
     */
    public void claim() {
        Fs.mkdirs(new Path(root, STAGES));
    }

    public Path root() {
        return root;
    }

    public Path resolve(String name) {
        return new Path(root, name);
    }

    private Path marker(String stage) {
        return new Path(new Path(root, STAGES), stage + ".done");
    }

    private Path runFile() {
        return new Path(root, RUN_FILE);
    }

    public boolean isDone(String stage) {
        return Fs.exists(marker(stage));
    }

    /** Records a finished stage: its marker, then an updated run.json. */
    public void markDone(String stage, double seconds) {
        stageSeconds.put(stage, seconds);
        Fs.mkdirs(new Path(root, STAGES));
        Fs.writeStringAtomically(marker(stage), String.format("{\"stage\": \"%s\", \"seconds\": %.3f}%n", stage, seconds));
        writeRunFile();
    }

    /** Adds a fact to run.json (configuration, versions, fingerprints, seeds). */
    public void put(String key, Object value) {
        facts.put(key, value);
    }

    public Map<String, Double> stageSeconds() {
        return stageSeconds;
    }

    private void loadTimings() {
        try {
            ObjectNode n = (ObjectNode) JSON.readTree(Fs.readString(runFile()));
            n.path("stage_seconds").fields().forEachRemaining(e -> stageSeconds.put(e.getKey(), e.getValue().asDouble()));
        } catch (IOException | ClassCastException e) {
            throw new IllegalArgumentException(runFile() + ": unreadable run record; remove it to resume", e);
        }
    }

    public void writeRunFile() {
        ObjectNode n = JSON.createObjectNode();
        facts.forEach((k, v) -> n.set(k, JSON.valueToTree(v)));
        n.set("stage_seconds", JSON.valueToTree(stageSeconds));
        try {
            Fs.mkdirs(root);
            Fs.writeStringAtomically(runFile(), JSON.writeValueAsString(n) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
