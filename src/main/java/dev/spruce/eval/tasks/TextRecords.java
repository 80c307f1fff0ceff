package dev.spruce.eval.tasks;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.fs.Path;

/** The text records of a perplexity corpus, read from plain text or JSON Lines on any Hadoop file system. */
public final class TextRecords {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** How records are stored. */
    public enum Format {
        /** One record per line, empty lines included (WikiText's blank rows count as records). */
        TEXT,
        /** One JSON object per line; the record is one string field. Blank lines are skipped. */
        JSONL;

        public static Format parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown text record format '" + name + "', expected text or jsonl", e);
            }
        }
    }

    private TextRecords() {}

    /**
     * Reads all records of {@code file}. {@code field} names the JSON string field for {@link Format#JSONL}
     * (for example {@code text} for WikiText, {@code sentence} for PTB) and is ignored for {@link Format#TEXT}.
     *
     * @throws IllegalArgumentException naming the file and line of the first malformed record
     */
    public static List<String> read(Path file, Format format, String field) {
        List<String> records = new ArrayList<>();
        if (format == Format.TEXT) {
            Lines.forEach(file, (lineNumber, line) -> records.add(line));
            return records;
        }
        if (field == null || field.isEmpty()) {
            throw new IllegalArgumentException("reading JSON Lines from " + file + " needs the name of the text field");
        }
        Lines.forEach(file, (lineNumber, line) -> {
            if (!line.isBlank()) {
                records.add(textField(file, lineNumber, line, field));
            }
        });
        return records;
    }

    private static String textField(Path file, long lineNumber, String line, String field) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ":" + lineNumber + ": invalid JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException(file + ":" + lineNumber + ": expected a JSON object");
        }
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            throw new IllegalArgumentException(file + ":" + lineNumber + ": field '" + field + "' is missing");
        }
        if (!value.isTextual()) {
            throw new IllegalArgumentException(file + ":" + lineNumber + ": field '" + field + "' is "
                    + value.getNodeType().toString().toLowerCase(Locale.ROOT) + ", expected a string");
        }
        return value.textValue();
    }
}
