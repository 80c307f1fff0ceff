package dev.spruce.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.io.Fs;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Reads every file of a data source once on the driver, before any Spark job, in memory bounded by
 * {@link TextSource#MAX_RECORD_BYTES}: binary files and files that are not UTF-8 are refused; records (lines of
 * {@code text} and {@code jsonl}) longer than the limit are counted, and Spark skips them without holding them
 * (see {@link TextSource#rows}); malformed JSON Lines are counted; a JSON file must parse. When more than
 * {@code maxBadFraction} of the records are dropped the source is refused, naming the first bad record.
 */
public final class InputCheck {
    /** The documented default share of records that may be dropped (malformed or too long) before it is an error. */
    public static final double DEFAULT_MAX_BAD_FRACTION = 0.05;
    private static final int SNIFF_BYTES = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private InputCheck() {}

    /**
     * What the check counted.
     *
     * @param records   records seen: lines (text, jsonl; blank JSON lines excluded), files (text-files), array
     *                  elements or objects (json), rows unknown for parquet (0)
     * @param malformed JSON Lines that are not a JSON object
     * @param tooLong   records longer than {@link TextSource#MAX_RECORD_BYTES}
     */
    public record Report(String path, int files, long records, long malformed, long tooLong, String firstProblem) {
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("path", path);
            m.put("files", files);
            m.put("records", records);
            m.put("malformed_records", malformed);
            m.put("records_over_" + TextSource.MAX_RECORD_BYTES + "_bytes", tooLong);
            return m;
        }
    }

    /** Checks {@code source}; {@code what} names the setting for messages ({@code calibration.path}). */
    public static Report check(TextSource source, String what, double maxBadFraction) {
        Path root = Fs.path(source.path());
        List<Path> files = files(root, what, source.path());
        long records = 0;
        long malformed = 0;
        long tooLong = 0;
        String first = null;
        for (Path file : files) {
            FileCounts c = switch (source.format()) {
                case "parquet" -> parquet(file);
                case "json" -> json(file);
                case "text-files" -> wholeFile(file);
                default -> lines(file, source.format().equals("jsonl"));
            };
            records += c.records;
            malformed += c.malformed;
            tooLong += c.tooLong;
            first = first == null ? c.firstProblem : first;
        }
        long bad = malformed + tooLong;
        if (bad > 0 && (bad == records || bad > maxBadFraction * records)) {
            throw new IllegalArgumentException(source.path() + ": " + bad + " of " + records + " records are "
                    + "malformed or longer than " + TextSource.MAX_RECORD_BYTES + " bytes (first: " + first
                    + "); at most " + (100 * maxBadFraction) + "% may be (" + what + ".max-bad-fraction)");
        }
        return new Report(source.path(), files.size(), records, malformed, tooLong, first);
    }

    /** A local file as its plain path, anything else as its URI. */
    private static String name(Path p) {
        return "file".equals(p.toUri().getScheme()) ? p.toUri().getPath() : p.toString();
    }

    private record FileCounts(long records, long malformed, long tooLong, String firstProblem) {}

    /** The data files under {@code root}, skipping hidden and marker files as Spark does. */
    private static List<Path> files(Path root, String what, String given) {
        FileSystem fs = Fs.fs(root);
        List<Path> out = new ArrayList<>();
        try {
            if (!fs.exists(root)) {
                throw new IllegalArgumentException(what + " = " + given + ": no such file or directory");
            }
            FileStatus status = fs.getFileStatus(root);
            if (status.isFile()) {
                out.add(status.getPath());
            } else {
                RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
                while (it.hasNext()) {
                    Path p = it.next().getPath();
                    if (!p.getName().startsWith(".") && !p.getName().startsWith("_")) {
                        out.add(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(what + " = " + given + ": cannot list: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(what + " = " + given + ": no data files in this directory");
        }
        out.sort(null);
        return out;
    }

    private static FileCounts parquet(Path file) {
        long length = Fs.length(file);
        byte[] head = new byte[4];
        byte[] tail = new byte[4];
        try (var in = Fs.open(file)) {
            if (length < 12) {
                throw new IllegalArgumentException(name(file) + ": " + length + " bytes is too short for a Parquet file");
            }
            in.readFully(0, head);
            in.readFully(length - 4, tail);
        } catch (IOException e) {
            throw new UncheckedIOException(name(file) + ": cannot read: " + e.getMessage(), e);
        }
        byte[] magic = "PAR1".getBytes(StandardCharsets.US_ASCII);
        if (!java.util.Arrays.equals(head, magic) || !java.util.Arrays.equals(tail, magic)) {
            throw new IllegalArgumentException(name(file) + ": not a Parquet file (no PAR1 magic at its start and end)");
        }
        return new FileCounts(0, 0, 0, null);
    }

    /** Refuses binary or non-UTF-8 content from the first bytes of a text file. */
    private static void requireText(Path file, byte[] prefix, int length) {
        for (int i = 0; i < length; i++) {
            if (prefix[i] == 0) {
                throw new IllegalArgumentException(name(file) + ": binary data (a NUL byte at offset " + i
                        + "), expected UTF-8 text");
            }
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        // A multi-byte character cut at the end of the prefix is not an error: drop up to 3 trailing bytes.
        int end = length;
        if (length == prefix.length) {
            int back = 0;
            while (back < 3 && end > 0 && (prefix[end - 1] & 0xC0) == 0x80) {
                end--;
                back++;
            }
            if (end > 0 && (prefix[end - 1] & 0x80) != 0) {
                end--;
            }
        }
        try {
            decoder.decode(ByteBuffer.wrap(prefix, 0, end));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(name(file) + ": not UTF-8 text (" + e.getMessage() + " in its first "
                    + end + " bytes)");
        }
    }

    /** Opens a text file after refusing binary or non-UTF-8 content in its first bytes; the stream starts at 0. */
    private static InputStream openText(Path file) throws IOException {
        InputStream in = new BufferedInputStream(Fs.open(file), SNIFF_BYTES);
        try {
            byte[] prefix = new byte[SNIFF_BYTES];
            in.mark(SNIFF_BYTES);
            int n = in.readNBytes(prefix, 0, prefix.length);
            in.reset();
            requireText(file, prefix, n);
            return in;
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    /** Lines of text or JSON Lines, each held only up to the limit. */
    private static FileCounts lines(Path file, boolean jsonl) {
        long records = 0;
        long malformed = 0;
        long tooLong = 0;
        String first = null;
        int max = TextSource.MAX_RECORD_BYTES;
        byte[] line = new byte[Math.min(max, 1 << 16)];
        try (InputStream in = openText(file)) {
            long lineNumber = 0;
            int length = 0;
            long fullLength = 0;
            int b;
            boolean pending = false;
            while (true) {
                b = in.read();
                if (b == '\n' || b == -1) {
                    if (b == -1 && !pending) {
                        break;
                    }
                    lineNumber++;
                    int end = length > 0 && line[length - 1] == '\r' ? length - 1 : length;
                    if (fullLength > max) {
                        tooLong++;
                        records++;
                        first = first != null ? first : name(file) + ":" + lineNumber + " has " + fullLength + " bytes";
                    } else if (jsonl) {
                        String problem = jsonObjectProblem(line, end);
                        if (problem != null && problem.isEmpty()) {
                            // a blank line: Spark skips it, so it is no record
                        } else {
                            records++;
                            if (problem != null) {
                                malformed++;
                                first = first != null ? first : name(file) + ":" + lineNumber + " " + problem;
                            }
                        }
                    } else {
                        records++;
                    }
                    length = 0;
                    fullLength = 0;
                    pending = false;
                    if (b == -1) {
                        break;
                    }
                    continue;
                }
                pending = true;
                fullLength++;
                if (fullLength <= max) {
                    if (length == line.length) {
                        line = java.util.Arrays.copyOf(line, Math.min(max, line.length * 2));
                    }
                    line[length++] = (byte) b;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(name(file) + ": cannot read: " + e.getMessage(), e);
        }
        return new FileCounts(records, malformed, tooLong, first);
    }

    /** Null for a JSON object, "" for a blank line, otherwise what is wrong. */
    private static String jsonObjectProblem(byte[] line, int length) {
        boolean blank = true;
        for (int i = 0; i < length && blank; i++) {
            blank = line[i] == ' ' || line[i] == '\t';
        }
        if (blank) {
            return "";
        }
        try {
            JsonNode node = JSON.readTree(line, 0, length);
            return node != null && node.isObject() ? null : "is not a JSON object";
        } catch (IOException e) {
            return "is not valid JSON";
        }
    }

    /** One document per file: too long when over the limit (Spark would read it whole). */
    private static FileCounts wholeFile(Path file) {
        try (InputStream in = openText(file)) {
            // opening reads the first bytes, which is the whole check: the content is Spark's to read
        } catch (IOException e) {
            throw new UncheckedIOException(name(file) + ": cannot read: " + e.getMessage(), e);
        }
        long length = Fs.length(file);
        boolean over = length > TextSource.MAX_RECORD_BYTES;
        return new FileCounts(1, 0, over ? 1 : 0, over ? name(file) + " has " + length + " bytes" : null);
    }

    /** A JSON file (an array of objects, or one object) streamed token by token: it must parse. */
    private static FileCounts json(Path file) {
        long records = 0;
        try (InputStream in = openText(file)) {
            try (JsonParser parser = new JsonFactory().createParser(in)) {
                JsonToken top = parser.nextToken();
                if (top == JsonToken.START_ARRAY) {
                    JsonToken t;
                    while ((t = parser.nextToken()) != JsonToken.END_ARRAY && t != null) {
                        records++;
                        parser.skipChildren();
                    }
                } else if (top == JsonToken.START_OBJECT) {
                    records = 1;
                    parser.skipChildren();
                } else {
                    throw new IllegalArgumentException(name(file) + ": expected a JSON array of records or one object, "
                            + "found " + top);
                }
                if (parser.nextToken() != null) {
                    throw new IllegalArgumentException(name(file) + ": more JSON after the first value at line "
                            + parser.currentLocation().getLineNr() + " (for one object per line use format jsonl)");
                }
            }
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(name(file) + ": not valid JSON at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(name(file) + ": cannot read: " + e.getMessage(), e);
        }
        return new FileCounts(records, 0, 0, null);
    }
}
