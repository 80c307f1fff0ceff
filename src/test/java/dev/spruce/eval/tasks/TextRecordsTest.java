package dev.spruce.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.spruce.io.Fs;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextRecordsTest {
    @TempDir
    java.nio.file.Path dir;

    private Path write(String name, String content) throws IOException {
        java.nio.file.Path file = dir.resolve(name);
        Files.writeString(file, content);
        return Fs.path(file.toString());
    }

    @Test
    void plainTextKeepsEmptyLinesAsRecords() throws IOException {
        Path file = write("wiki.txt", " = Title = \n\n Body text .\n");
        assertEquals(List.of(" = Title = ", "", " Body text ."),
                TextRecords.read(file, TextRecords.Format.TEXT, null));
    }

    @Test
    void jsonLinesReadTheNamedField() throws IOException {
        Path file = write("ptb.jsonl", "{\"sentence\": \"no it was n't black monday\"}\n\n"
                + "{\"sentence\": \"\", \"other\": 1}\n");
        assertEquals(List.of("no it was n't black monday", ""),
                TextRecords.read(file, TextRecords.Format.parse("jsonl"), "sentence"));
    }

    @Test
    void errorsNameFileAndLine() throws IOException {
        Path broken = write("broken.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"\n");
        IllegalArgumentException badJson = assertThrows(IllegalArgumentException.class,
                () -> TextRecords.read(broken, TextRecords.Format.JSONL, "text"));
        assertEquals(true, badJson.getMessage().startsWith(broken + ":2: invalid JSON"), badJson.getMessage());

        Path missing = write("missing.jsonl", "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n");
        IllegalArgumentException noField = assertThrows(IllegalArgumentException.class,
                () -> TextRecords.read(missing, TextRecords.Format.JSONL, "text"));
        assertEquals(missing + ":2: field 'text' is missing", noField.getMessage());

        Path number = write("number.jsonl", "{\"text\": 7}\n");
        IllegalArgumentException notText = assertThrows(IllegalArgumentException.class,
                () -> TextRecords.read(number, TextRecords.Format.JSONL, "text"));
        assertEquals(number + ":1: field 'text' is number, expected a string", notText.getMessage());
    }
}
