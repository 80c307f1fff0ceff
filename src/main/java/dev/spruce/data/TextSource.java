package dev.spruce.data;

import dev.spruce.io.Fs;
import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * Where documents come from: any Hadoop path (file or directory) in one of these formats:
 * {@code text} (one document per line), {@code text-files} (one document per file), {@code json} (a JSON
 * array or object per file, e.g. Alpaca's alpaca_data.json), {@code jsonl} (one JSON object per line) and
 * {@code parquet}; the last three read the string column {@code field}.
 */
public record TextSource(String path, String format, String field) implements Serializable {
    public static final List<String> FORMATS = List.of("text", "text-files", "json", "jsonl", "parquet");
    /**
     * The longest record (a line of text or JSON Lines, a text-files document, a text field) spruce reads, in
     * bytes. Longer lines are skipped by the line reader without being held, longer documents and fields are
     * dropped before tokenization (a tokenizer's memory grows with its input), and {@link InputCheck} counts them.
     */
    public static final int MAX_RECORD_BYTES = 1 << 20;
    private static final String LINE_LIMIT = "mapreduce.input.linerecordreader.line.maxlength";

    public TextSource {
        if (path == null || path.isBlank()) {
            throw new IllegalArgumentException("data path is empty");
        }
        format = format.toLowerCase(Locale.ROOT);
        if (!FORMATS.contains(format)) {
            throw new IllegalArgumentException("data format '" + format + "' is not supported; expected one of " + FORMATS);
        }
    }

    /** Reads the rows (all columns) of a structured source; for text formats a single column {@code value}. */
    public Dataset<Row> rows(SparkSession spark) {
        String location = Fs.path(path).toString();
        if (!Fs.exists(Fs.path(path))) {
            throw new IllegalArgumentException(path + ": no such file or directory");
        }
        return switch (format) {
            case "text" -> spark.read().option(LINE_LIMIT, MAX_RECORD_BYTES).text(location);
            case "text-files" -> spark.read().option("wholetext", true).text(location);
            case "json" -> spark.read().option("multiLine", true).json(location);
            case "jsonl" -> spark.read().option(LINE_LIMIT, MAX_RECORD_BYTES).json(location);
            case "parquet" -> spark.read().parquet(location);
            default -> throw new IllegalStateException(format);
        };
    }

    /** The documents: non-empty strings of the text column, at most {@link #MAX_RECORD_BYTES} long. */
    public Dataset<String> documents(SparkSession spark) {
        Dataset<Row> rows = rows(spark);
        String column = format.startsWith("text") ? "value" : field;
        requireColumn(rows, column);
        return rows.select(functions.col(column).cast("string"))
                .filter(functions.col(column).isNotNull().and(functions.length(functions.col(column)).gt(0))
                        .and(functions.octet_length(functions.col(column)).leq(MAX_RECORD_BYTES)))
                .as(Encoders.STRING());
    }

    /** Fails with the file and the columns it has when {@code column} is absent. */
    public void requireColumn(Dataset<Row> rows, String column) {
        if (column == null || !Arrays.asList(rows.columns()).contains(column)) {
            throw new IllegalArgumentException(path + ": field '" + column + "' is not a column of this " + format
                    + " data (columns: " + String.join(", ", rows.columns()) + ")");
        }
    }
}
