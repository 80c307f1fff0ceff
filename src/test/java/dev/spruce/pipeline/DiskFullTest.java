package dev.spruce.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spruce.cli.CliRun;
import dev.spruce.data.TestTokenizers;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.TestSpark;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk that fills up while the pruned model is written: a real size-limited tmpfs (mounting needs root, as CI
 * and these machines run; elsewhere the test is skipped). The error is one line and nothing partial is left.
 */
class DiskFullTest {
    @TempDir
    Path dir;

    private static int run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor();
    }

    private static long size(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    @Test
    void aFullDiskDuringTheModelWriteIsOneLineAndLeavesNoPartialModel() throws Exception {
        TestSpark.session();
        LlamaConfig c = TinyModels.builder(4, 16, 2).vocabSize(259).build();
        Path model = dir.resolve("model");
        ModelFiles.write(Fs.path(model.toString()), c, WeightSource.of(c, TinyModels.randomWeights(c, 5)), DType.F32,
                null, false);
        TestTokenizers.bytes(model);
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            docs.add("Document " + i + " is about structured pruning of language models on Spark executors.");
        }
        Path calibration = Files.write(dir.resolve("calibration.txt"), docs, StandardCharsets.UTF_8);
        Path disk = Files.createDirectories(dir.resolve("disk"));
        String job = String.join("\n", "spruce {", "  spark.master = \"local[2]\"", "  model.path = \"" + model + "\"",
                "  calibration { path = \"" + calibration + "\", samples = 4, length = 16 }",
                "  prune { ratio = 0.25, attention-layers = \"1:3\", mlp-layers = \"1:3\" }", "}");
        Path conf = Files.writeString(dir.resolve("job.conf"), job);
        // A run on an ordinary disk measures the outputs; the tmpfs then holds everything but half the model.
        Path reference = dir.resolve("reference");
        assertEquals(0, CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + reference).exit());
        long all = size(reference);
        long modelBytes = size(reference.resolve("model"));
        long limit = ((all - modelBytes / 2) / 4096 + 1) * 4096;
        assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=" + limit, "tmpfs", disk.toString()) == 0,
                "cannot mount a tmpfs here (needs root)");
        try {
            Path out = disk.resolve("run");
            CliRun.Result r = CliRun.spruce("prune", "-c", conf.toString(), "--set", "output.dir=" + out);

            assertEquals(1, r.exit());
            String last = r.err().strip().lines().reduce((a, b) -> b).orElse("");
            assertTrue(last.startsWith("spruce: error: ") && last.contains("cannot write")
                    && last.contains("No space left on device"), r.err());
            assertFalse(r.err().contains("FSError"), "a raw FSError reached the user: " + r.err());
            assertFalse(Files.exists(out.resolve("model")), "a partial model was left");
            try (Stream<Path> left = Files.list(out)) {
                List<String> names = left.map(p -> p.getFileName().toString()).toList();
                assertTrue(names.stream().noneMatch(n -> n.contains(".staging-") || n.contains(".tmp-")),
                        "staging files were left: " + names);
            }
        } finally {
            run("umount", disk.toString());
        }
    }
}
