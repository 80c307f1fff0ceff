package dev.spruce.cli;

import dev.spruce.report.TextTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Benchmark rows (ordered maps with the same keys) as a table; numbers with two decimals. */
final class BenchTables {
    private BenchTables() {}

    static TextTable of(List<Map<String, Object>> rows) {
        TextTable table = new TextTable(new ArrayList<>(rows.get(0).keySet()));
        for (Map<String, Object> row : rows) {
            List<String> cells = new ArrayList<>();
            for (Object v : row.values()) {
                cells.add(v instanceof Double d ? String.format("%.2f", d) : String.valueOf(v));
            }
            table.addRow(cells);
        }
        return table;
    }
}
