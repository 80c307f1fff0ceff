package dev.spruce.eval.tasks;

import java.util.List;

/** The documents of one task file, and the records that were skipped as malformed. */
public record McLoadResult(McTask task, List<McDoc> docs, List<SkippedRecord> skipped) {
    public McLoadResult {
        docs = List.copyOf(docs);
        skipped = List.copyOf(skipped);
    }
}
