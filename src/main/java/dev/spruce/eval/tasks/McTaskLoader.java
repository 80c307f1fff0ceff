package dev.spruce.eval.tasks;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.Path;

/**
 * Loads a task's JSON Lines file (one Hugging Face record per line) into documents. A malformed record (broken
 * JSON, a missing or out-of-range label, no choices, a field of the wrong type) becomes a {@link SkippedRecord}
 * naming its line, and loading goes on; blank lines are not records.
 */
public final class McTaskLoader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private McTaskLoader() {}

    public static McLoadResult load(McTask task, Path file) {
        List<McDoc> docs = new ArrayList<>();
        List<SkippedRecord> skipped = new ArrayList<>();
        Lines.forEach(file, (lineNumber, line) -> {
            if (line.isBlank()) {
                return;
            }
            try {
                docs.add(McPrompts.parse(task, lineNumber, readJson(line)));
            } catch (MalformedRecordException e) {
                skipped.add(new SkippedRecord(task.name(), file.toString(), lineNumber, e.getMessage()));
            }
        });
        return new McLoadResult(task, docs, skipped);
    }

    private static JsonNode readJson(String line) {
        try {
            return JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new MalformedRecordException("invalid JSON: " + e.getOriginalMessage());
        }
    }
}
