package dev.spruce.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Runs the spruce command line in-process and captures what it prints. */
public final class CliRun {
    /** Exit code and captured standard output and error. */
    public record Result(int exit, String out, String err) {
        /**
         * The text of the one {@code spruce: error: } line on standard error; fails unless there is exactly one and
         * nothing but log lines ({@code HH:mm:ss LEVEL ...}) follows it, so a test of it also says that the error
         * is a single line.
         */
        public String error() {
            List<String> lines = err.lines().toList();
            List<Integer> at = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).startsWith(ERROR_PREFIX)) {
                    at.add(i);
                }
            }
            if (at.size() != 1) {
                throw new AssertionError("expected exactly one '" + ERROR_PREFIX + "' line, got " + at.size() + " in:\n"
                        + err);
            }
            for (String after : lines.subList(at.get(0) + 1, lines.size())) {
                if (!after.matches("\\d\\d:\\d\\d:\\d\\d .*")) {
                    throw new AssertionError("the error goes on past its line:\n" + err);
                }
            }
            return lines.get(at.get(0)).substring(ERROR_PREFIX.length());
        }
    }

    private static final String ERROR_PREFIX = "spruce: error: ";

    private CliRun() {}

    public static synchronized Result spruce(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
        ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(outBytes, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(errBytes, true, StandardCharsets.UTF_8));
            int exit = Spruce.run(args);
            return new Result(exit, outBytes.toString(StandardCharsets.UTF_8), errBytes.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
