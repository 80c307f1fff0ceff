package dev.spruce.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkException;

/**
 * The one line a failed command prints. spruce's own errors already are one line that names the file, the field
 * and what was expected; a failure inside a Spark task arrives wrapped in Spark's "Job aborted" text with the
 * executor's stack trace, so it is reduced to its root cause and the task, and the whole trace goes to a file.
 */
final class Errors {
    private static final Pattern LOST_TASK = Pattern.compile(
            "Lost task (\\S+) in stage (\\S+) \\(TID \\d+\\) \\([^)]*?executor (\\S+?)\\)");

    private Errors() {}

    /** The message of {@code e} as one line, and for Spark failures the task that failed. */
    static String oneLine(Throwable e) {
        SparkException spark = null;
        Throwable root = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SparkException s && spark == null) {
                spark = s;
            }
            if (!(t instanceof SparkException) && t.getMessage() != null) {
                root = t;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        if (spark == null) {
            return e.getMessage() == null ? e.toString() : e.getMessage(); // spruce's own messages are one line
        }
        String message = root == spark || root.getMessage() == null ? firstLine(spark.getMessage())
                : firstLine(root.getMessage());
        if (root != spark && !(root instanceof IllegalArgumentException) && !(root instanceof IllegalStateException)) {
            message = root.getClass().getSimpleName() + ": " + message;
        }
        Matcher task = LOST_TASK.matcher(spark.getMessage() == null ? "" : spark.getMessage());
        return task.find() ? message + " (task " + task.group(1) + " of stage " + task.group(2) + " on executor "
                + task.group(3) + ")" : message;
    }

    /** Whether {@code e} came from a Spark job (its text and trace are then worth keeping in a file). */
    static boolean fromSpark(Throwable e) {
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof SparkException) {
                return true;
            }
        }
        return false;
    }

    /** Writes the full trace to a fresh file in the temporary directory and returns it, or null if that fails. */
    static Path writeTrace(Throwable e) {
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        try {
            Path file = Files.createTempFile("spruce-error-", ".log");
            Files.writeString(file, trace.toString(), StandardCharsets.UTF_8);
            return file;
        } catch (IOException | RuntimeException io) {
            return null;
        }
    }

    private static String firstLine(String s) {
        String line = s.strip();
        int end = line.indexOf('\n');
        return (end < 0 ? line : line.substring(0, end)).strip();
    }
}
