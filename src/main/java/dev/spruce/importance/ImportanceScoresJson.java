package dev.spruce.importance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.io.Fs;
import dev.spruce.io.JsonErrors;
import dev.spruce.io.JsonLayout;
import java.io.IOException;
import org.apache.hadoop.fs.Path;

/**
 * {@link ImportanceScores} as JSON: {@code criterion}, then {@code attention} and {@code mlp} as one row per
 * layer (null for a layer that was not scored) and {@code hidden} (null unless estimated). Each row is one
 * line. Doubles are written in shortest round-trip form, so reading gives back the exact values.
 */
public final class ImportanceScoresJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ImportanceScoresJson() {}

    public static String toJson(ImportanceScores scores) {
        ObjectNode o = JSON.createObjectNode();
        o.put("criterion", scores.criterion());
        rows(o, "attention", scores.attention());
        rows(o, "mlp", scores.mlp());
        if (scores.hidden() == null) {
            o.putNull("hidden");
        } else {
            row(o.putArray("hidden"), scores.hidden(), "hidden");
        }
        return JsonLayout.format(o);
    }

    public static void write(Path file, ImportanceScores scores) {
        Fs.writeStringAtomically(file, toJson(scores));
    }

    public static ImportanceScores read(Path file) {
        if (!Fs.exists(file)) {
            throw new IllegalArgumentException(file + ": importance scores file not found");
        }
        return fromJson(Fs.readString(file), file.toString());
    }

    /** Parses scores; {@code where} names the source in error messages. */
    public static ImportanceScores fromJson(String json, String where) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException(where + ": not valid JSON: " + JsonErrors.oneLine(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(where + ": expected a JSON object with fields criterion, attention, "
                    + "mlp and hidden");
        }
        JsonNode criterion = root.get("criterion");
        if (criterion == null || !criterion.isTextual()) {
            throw new IllegalArgumentException(where + ": field criterion must be a string, for example \"taylor\"");
        }
        return new ImportanceScores(criterion.asText(), readRows(root, "attention", where),
                readRows(root, "mlp", where), readRow(root.get("hidden"), "hidden", where));
    }

    private static void rows(ObjectNode o, String field, double[][] rows) {
        if (rows == null) {
            o.putNull(field);
            return;
        }
        ArrayNode a = o.putArray(field);
        for (int l = 0; l < rows.length; l++) {
            if (rows[l] == null) {
                a.addNull();
            } else {
                row(a.addArray(), rows[l], field + "[" + l + "]");
            }
        }
    }

    private static void row(ArrayNode a, double[] values, String field) {
        for (int i = 0; i < values.length; i++) {
            if (!Double.isFinite(values[i])) {
                throw new IllegalArgumentException("importance scores: " + field + "[" + i + "] is " + values[i]
                        + "; scores must be finite");
            }
            a.add(values[i]);
        }
    }

    private static double[][] readRows(JsonNode root, String field, String where) {
        JsonNode a = root.get(field);
        if (a == null || a.isNull()) {
            return null;
        }
        if (!a.isArray()) {
            throw new IllegalArgumentException(where + ": field " + field
                    + " must be an array with one row per layer");
        }
        double[][] rows = new double[a.size()][];
        for (int l = 0; l < rows.length; l++) {
            rows[l] = readRow(a.get(l), field + "[" + l + "]", where);
        }
        return rows;
    }

    private static double[] readRow(JsonNode a, String field, String where) {
        if (a == null || a.isNull()) {
            return null;
        }
        if (!a.isArray()) {
            throw new IllegalArgumentException(where + ": field " + field
                    + " must be an array of numbers or null");
        }
        double[] row = new double[a.size()];
        for (int i = 0; i < row.length; i++) {
            JsonNode v = a.get(i);
            if (!v.isNumber()) {
                throw new IllegalArgumentException(where + ": field " + field + "[" + i + "] must be a number, got "
                        + v);
            }
            row[i] = v.asDouble();
        }
        return row;
    }
}
