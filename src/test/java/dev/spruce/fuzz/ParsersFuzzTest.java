package dev.spruce.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.spruce.data.InputCheck;
import dev.spruce.data.TextSource;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.safetensors.SafetensorsFile;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.model.safetensors.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Coverage-guided fuzz targets (Jazzer) for what spruce parses from files it is given: the safetensors header, the
 * sharded index, config.json and the data readers' input check. Each must either accept the input or refuse it
 * with spruce's own error ({@link IllegalArgumentException}, whose subclasses carry the file and field, or an
 * {@link UncheckedIOException} for I/O); any other exception or error is a finding.
 *
 * <p>{@code mvn verify} replays the committed inputs under {@code src/test/resources/dev/spruce/fuzz/
 * ParsersFuzzTestInputs/<method>/} (regression mode) and then fuzzes {@link #everyParser} for a few seconds with a
 * fixed seed (the {@code fuzz} surefire execution in pom.xml). A longer run of one target:
 * {@code JAZZER_FUZZ=1 mvn -B -ntp surefire:test -Dtest=ParsersFuzzTest#safetensorsHeader -Djazzer.max_duration=10m}.
 */
class ParsersFuzzTest {
    private static Path scratch(String name) throws IOException {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "spruce-fuzz-" + ProcessHandle.current().pid());
        Files.createDirectories(dir);
        return dir.resolve(name);
    }

    @FuzzTest(maxDuration = "10s")
    void safetensorsHeader(byte[] file) throws IOException {
        Path path = scratch("model.safetensors");
        Files.write(path, file);
        try (SafetensorsFile st = SafetensorsFile.open(Fs.path(path.toString()))) {
            for (TensorInfo info : st.tensors().values()) {
                if (info.end() < info.begin() || info.begin() < 0) {
                    throw new AssertionError("accepted a tensor with offsets " + info.begin() + ".." + info.end());
                }
            }
        } catch (IllegalArgumentException | UncheckedIOException refused) {
            // refused with spruce's own error
        }
    }

    /** The bytes up to the first NUL are the index JSON, the rest the one shard it may name. */
    @FuzzTest(maxDuration = "10s")
    void shardedIndex(byte[] input) throws IOException {
        Path dir = scratch("sharded");
        Files.createDirectories(dir);
        Files.deleteIfExists(dir.resolve(SafetensorsModel.SINGLE_FILE));
        int split = 0;
        while (split < input.length && input[split] != 0) {
            split++;
        }
        Files.write(dir.resolve(SafetensorsModel.INDEX_FILE), java.util.Arrays.copyOfRange(input, 0, split));
        Files.write(dir.resolve("model-00001-of-00001.safetensors"),
                java.util.Arrays.copyOfRange(input, Math.min(input.length, split + 1), input.length));
        try (SafetensorsModel st = SafetensorsModel.open(Fs.path(dir.toString()))) {
            for (String name : st.names()) {
                st.info(name); // every listed tensor has a header entry in its shard
            }
        } catch (IllegalArgumentException | UncheckedIOException refused) {
            // refused with spruce's own error
        }
    }

    @FuzzTest(maxDuration = "10s")
    void llamaConfig(byte[] input) {
        String json = new String(input, StandardCharsets.UTF_8);
        try {
            LlamaConfig c = LlamaConfig.parse(json, "config.json");
            if (c.numHiddenLayers() < 0 || c.hiddenSize() <= 0 || c.vocabSize() <= 0) {
                throw new AssertionError("accepted a config with impossible sizes: " + json);
            }
            c.parameterCount();
        } catch (IllegalArgumentException refused) {
            // refused with spruce's own error
        }
    }

    /** The first byte picks the format, the rest is the file. */
    @FuzzTest(maxDuration = "10s")
    void dataReaders(byte[] input) throws IOException {
        String[] formats = {"text", "jsonl", "json", "text-files"};
        String format = input.length == 0 ? "text" : formats[Math.floorMod(input[0], formats.length)];
        Path path = scratch("data." + format);
        Files.write(path, input.length == 0 ? input : java.util.Arrays.copyOfRange(input, 1, input.length));
        try {
            InputCheck.Report r = InputCheck.check(new TextSource(path.toString(), format, "text"), "fuzz", 1.0);
            if (r.malformed() + r.tooLong() > r.records()) {
                throw new AssertionError("more bad records than records: " + r);
            }
        } catch (IllegalArgumentException | UncheckedIOException refused) {
            // refused with spruce's own error
        }
    }

    /**
     * All four targets in one: the first byte picks the target, the rest is its input. CI fuzzes this one for a
     * few seconds (one fuzzed method per JVM is Jazzer's rule, and each JVM start costs more than the run).
     */
    @FuzzTest(maxDuration = "15s")
    void everyParser(byte[] input) throws IOException {
        byte[] rest = input.length == 0 ? input : java.util.Arrays.copyOfRange(input, 1, input.length);
        switch (input.length == 0 ? 0 : Math.floorMod(input[0], 4)) {
            case 0 -> safetensorsHeader(rest);
            case 1 -> shardedIndex(rest);
            case 2 -> llamaConfig(rest);
            default -> dataReaders(rest);
        }
    }
}
