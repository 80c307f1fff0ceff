package dev.spruce.report;

import java.util.ArrayList;
import java.util.List;

/**
 * A table of strings rendered as Markdown or as fixed-width console text. The first column is a label column
 * (left-aligned); the others hold numbers (right-aligned).
 */
public final class TextTable {
    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    public TextTable(List<String> headers) {
        this.headers = List.copyOf(headers);
    }

    public TextTable addRow(List<String> cells) {
        if (cells.size() != headers.size()) {
            throw new IllegalArgumentException("a row of " + cells.size() + " cells for " + headers.size() + " columns");
        }
        rows.add(List.copyOf(cells));
        return this;
    }

    public String markdown() {
        StringBuilder out = new StringBuilder();
        markdownRow(out, headers);
        out.append('|');
        for (int c = 0; c < headers.size(); c++) {
            out.append(c == 0 ? "---|" : "---:|");
        }
        out.append('\n');
        for (List<String> row : rows) {
            markdownRow(out, row);
        }
        return out.toString();
    }

    private static void markdownRow(StringBuilder out, List<String> cells) {
        out.append('|');
        for (String cell : cells) {
            out.append(' ').append(cell.replace("|", "\\|").replace("\n", " ")).append(" |");
        }
        out.append('\n');
    }

    public String text() {
        int[] widths = new int[headers.size()];
        for (int c = 0; c < widths.length; c++) {
            widths[c] = headers.get(c).length();
            for (List<String> row : rows) {
                widths[c] = Math.max(widths[c], row.get(c).length());
            }
        }
        StringBuilder out = new StringBuilder();
        textRow(out, headers, widths);
        for (int c = 0; c < widths.length; c++) {
            out.append(c == 0 ? "" : "  ").append("-".repeat(widths[c]));
        }
        out.append('\n');
        for (List<String> row : rows) {
            textRow(out, row, widths);
        }
        return out.toString();
    }

    private static void textRow(StringBuilder out, List<String> cells, int[] widths) {
        StringBuilder line = new StringBuilder();
        for (int c = 0; c < widths.length; c++) {
            String cell = cells.get(c);
            String padding = " ".repeat(widths[c] - cell.length());
            line.append(c == 0 ? "" : "  ").append(c == 0 ? cell + padding : padding + cell);
        }
        out.append(line.toString().stripTrailing()).append('\n');
    }
}
