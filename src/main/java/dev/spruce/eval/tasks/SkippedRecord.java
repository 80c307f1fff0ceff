package dev.spruce.eval.tasks;

import java.io.Serializable;

/** A record the loader could not turn into a document, and why. */
public record SkippedRecord(String task, String file, long lineNumber, String reason) implements Serializable {
    @Override
    public String toString() {
        return task + ": " + file + ":" + lineNumber + ": " + reason;
    }
}
