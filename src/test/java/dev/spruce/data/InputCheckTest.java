package dev.spruce.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.spark.TestSpark;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver-side read of every data file: binary, non-UTF-8, malformed and over-long input, counted or refused. */
class InputCheckTest {
    @TempDir
    Path dir;

    private static String message(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void anOverLongLineIsCountedAndSkippedByTheReaderWithoutFailingTheSource() throws IOException {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            text.append("line ").append(i).append(" of ordinary text\n");
        }
        text.append("x".repeat(3 * TextSource.MAX_RECORD_BYTES)).append('\n');
        text.append("the last line\n");
        Path file = Files.writeString(dir.resolve("long.txt"), text);
        TextSource source = new TextSource(file.toString(), "text", null);

        InputCheck.Report r = InputCheck.check(source, "calibration", 0.05);

        assertEquals(62, r.records());
        assertEquals(1, r.tooLong());
        assertEquals(0, r.malformed());
        assertTrue(r.firstProblem().endsWith("long.txt:61 has " + (3 * TextSource.MAX_RECORD_BYTES) + " bytes"),
                r.firstProblem());
        SparkSession spark = TestSpark.session();
        List<String> documents = source.documents(spark).collectAsList();
        assertEquals(61, documents.size());
        assertTrue(documents.stream().allMatch(d -> d.length() < 100), "the long line reached the documents");
    }

    @Test
    void tooManyMalformedJsonLinesAreAnErrorNamingTheFirst() throws IOException {
        Path file = Files.writeString(dir.resolve("cal.jsonl"), "{\"text\": \"a\"}\n\n{\"text\": \"b\"}\n"
                + "{\"text\": broken\n[1, 2]\n{\"text\": \"c\"}\n");
        TextSource source = new TextSource(file.toString(), "jsonl", "text");
        assertEquals(file + ": 2 of 5 records are malformed or longer than 1048576 bytes (first: " + file
                + ":4 is not valid JSON); at most 25.0% may be (calibration.max-bad-fraction)",
                message(() -> InputCheck.check(source, "calibration", 0.25)));
        InputCheck.Report tolerated = InputCheck.check(source, "calibration", 0.5);
        assertEquals(5, tolerated.records());
        assertEquals(2, tolerated.malformed());
    }

    @Test
    void binaryAndNonUtf8FilesAreRefused() throws IOException {
        byte[] garbage = new byte[4096];
        new java.util.Random(3).nextBytes(garbage);
        garbage[100] = 0;
        Path binary = Files.write(dir.resolve("model.bin"), garbage);
        assertTrue(message(() -> InputCheck.check(new TextSource(binary.toString(), "text", null), "calibration",
                0.05)).startsWith(binary + ": binary data (a NUL byte at offset "));
        Path latin1 = Files.write(dir.resolve("latin1.txt"), "caf\u00e9 au lait\n".getBytes(StandardCharsets.ISO_8859_1));
        assertTrue(message(() -> InputCheck.check(new TextSource(latin1.toString(), "text", null), "calibration",
                0.05)).startsWith(latin1 + ": not UTF-8 text"));
    }

    @Test
    void jsonMustParseAndParquetMustBeParquet() throws IOException {
        Path json = Files.writeString(dir.resolve("alpaca.json"), "[\n{\"instruction\": \"a\", \"output\": \"b\"},\n"
                + "{\"instruction\": \"c\" \"output\": \"d\"}\n]\n");
        String m = message(() -> InputCheck.check(new TextSource(json.toString(), "json", null), "recover.data", 0.05));
        assertTrue(m.startsWith(json + ": not valid JSON at line 3, column "), m);
        Path good = Files.writeString(dir.resolve("good.json"), "[{\"a\": 1}, {\"a\": 2}, {\"a\": [3, {\"b\": 4}]}]");
        assertEquals(3, InputCheck.check(new TextSource(good.toString(), "json", null), "recover.data", 0.05).records());
        Path fake = Files.writeString(dir.resolve("fake.parquet"), "this is not parquet at all\n");
        assertEquals(fake + ": not a Parquet file (no PAR1 magic at its start and end)",
                message(() -> InputCheck.check(new TextSource(fake.toString(), "parquet", "text"), "calibration", 0.05)));
    }

    @Test
    void missingAndEmptyLocationsAreNamed() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        Files.writeString(empty.resolve("_SUCCESS"), "");
        assertEquals("calibration = " + empty + ": no data files in this directory",
                message(() -> InputCheck.check(new TextSource(empty.toString(), "text", null), "calibration", 0.05)));
        assertEquals("calibration = " + dir.resolve("nope") + ": no such file or directory",
                message(() -> InputCheck.check(new TextSource(dir.resolve("nope").toString(), "text", null),
                        "calibration", 0.05)));
    }
}
