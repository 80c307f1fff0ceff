package dev.spruce.notebook;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Stands in for Zeppelin's ZeppelinContext ({@code z}) when ZeppelinNoteTest interprets the note: {@code show}
 * collects the Dataset, prints its rows where the paragraph's output goes (Scala's Console, as Zeppelin's table
 * display would show them) and keeps them for the test. Public because the interpreted paragraphs call it.
 */
public final class ZeppelinDisplay {
    private final List<List<Row>> shown = new ArrayList<>();

    public void show(Dataset<?> data) {
        List<Row> rows = data.toDF().collectAsList();
        shown.add(rows);
        scala.Console.out().println(String.join("\t", data.columns()));
        for (Row row : rows) {
            scala.Console.out().println(row.mkString("\t"));
        }
    }

    /** The rows of each {@code show} call, in order. */
    List<List<Row>> shown() {
        return shown;
    }
}
