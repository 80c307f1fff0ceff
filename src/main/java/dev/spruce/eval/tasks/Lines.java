package dev.spruce.eval.tasks;

import dev.spruce.io.Fs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.Path;

/** Reads a UTF-8 file from any Hadoop file system line by line, with 1-based line numbers. */
final class Lines {
    @FunctionalInterface
    interface LineConsumer {
        void accept(long lineNumber, String line);
    }

    private Lines() {}

    static void forEach(Path file, LineConsumer consumer) {
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(Fs.open(file), StandardCharsets.UTF_8))) {
            long lineNumber = 0;
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                lineNumber++;
                consumer.accept(lineNumber, lineNumber == 1 ? stripByteOrderMark(line) : line);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static String stripByteOrderMark(String line) {
        return line.startsWith("\uFEFF") ? line.substring(1) : line;
    }
}
