package dev.spruce.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spruce.spark.TestSpark;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.tools.nsc.Settings;
import scala.tools.nsc.interpreter.IMain;
import scala.tools.nsc.interpreter.Results;
import scala.tools.nsc.interpreter.shell.ReplReporterImpl;

/**
 * The Zeppelin note as Zeppelin would run it: its %spark paragraphs, in order, through a real Scala 2.13
 * interpreter with {@code spark} bound to the test's SparkSession and {@code z} to {@link ZeppelinDisplay}, on the
 * bundled demo; then its %sql paragraph through the same session.
 */
class ZeppelinNoteTest {
    private static final Path NOTE = Path.of("notebooks/spruce-prune_2SPRUCE01.zpln");

    @TempDir
    Path dir;

    @Test
    void noteLoadsInZeppelinAndItsParagraphsRunOnTheDemo() throws Exception {
        JsonNode note = new ObjectMapper().readTree(NOTE.toFile());
        // Zeppelin 0.10+ loads <name>_<noteId>.zpln and takes the id from the file name: the two must agree.
        Matcher file = Pattern.compile("(.+)_(\\w+)\\.zpln").matcher(NOTE.getFileName().toString());
        assertTrue(file.matches(), NOTE.toString());
        assertEquals(file.group(1), note.path("name").asText());
        assertEquals(file.group(2), note.path("id").asText());

        List<String> scalaParagraphs = new ArrayList<>();
        List<String> sql = new ArrayList<>();
        JsonNode paragraphs = note.path("paragraphs");
        String intro = paragraphs.path(0).path("text").asText();
        assertTrue(intro.startsWith("%md") && intro.contains("Spark 4.0") && intro.contains("Scala 2.13")
                && intro.contains("SPRUCE_HOME") && intro.contains("spruce-0.1.0-SNAPSHOT-spark.jar"), intro);
        for (JsonNode p : paragraphs) {
            String text = p.path("text").asText();
            if (text.startsWith("%spark\n")) {
                scalaParagraphs.add(text.substring("%spark\n".length()));
            } else if (text.startsWith("%sql\n")) {
                sql.add(text.substring("%sql\n".length()));
            }
        }
        assertEquals(4, scalaParagraphs.size(), "setup, plan, prune and scores paragraphs");
        assertEquals(1, sql.size());

        // The note reads SPRUCE_HOME from the environment, else these JVM properties (an environment variable cannot
        // be set from Java); the overrides are the note's documented quick-demo knob, here for a short importance run.
        Path runDir = dir.resolve("notebook-prune");
        Map<String, String> props = Map.of("spruce.home", Path.of("").toAbsolutePath().toString(),
                "spruce.notebook.run-dir", runDir.toString(), "spruce.notebook.overrides", "calibration.samples=8");
        props.forEach(System::setProperty);
        SparkSession spark = TestSpark.session();
        ZeppelinDisplay z = new ZeppelinDisplay();
        StringWriter compilerLog = new StringWriter();
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        IMain intp = interpreter(new PrintWriter(compilerLog, true));
        try {
            bind(intp, "spark", SparkSession.class.getName(), spark, compilerLog);
            bind(intp, "z", ZeppelinDisplay.class.getName(), z, compilerLog);
            for (String code : scalaParagraphs) {
                // What a paragraph prints (println, z.show) goes to Scala's Console, Zeppelin's paragraph output.
                Results.Result result = scala.Console.withOut(output, () -> intp.interpret(code));
                assertEquals(Results.Success$.MODULE$, result, "paragraph:\n" + code + "\ncompiler:\n" + compilerLog
                        + "\noutput:\n" + output.toString(StandardCharsets.UTF_8));
            }
        } finally {
            intp.close();
            props.keySet().forEach(System::clearProperty);
        }
        String printed = output.toString(StandardCharsets.UTF_8);
        System.out.println(printed);
        // The plan and prune paragraphs print what spruce wrote (it would be lost to the interpreter log otherwise).
        // (README: LLaMA-7B at ratio 0.25 on layers 4..29 keeps 5,422,977,024 parameters.)
        assertTrue(printed.contains("params_after=5422977024"), printed);
        assertTrue(printed.contains("model=file:" + runDir.resolve("model")), printed);
        assertTrue(Files.isDirectory(runDir.resolve("scores.parquet")), "no scores.parquet in " + runDir);

        // spruce-tiny is GQA (6 heads, 2 kv heads): its attention rows are kv groups, and the note shows them.
        int kvHeads = new ObjectMapper().readTree(Path.of("models/spruce-tiny/config.json").toFile())
                .path("num_key_value_heads").asInt();
        assertEquals(1, z.shown().size());
        List<Row> heads = z.shown().get(0);
        assertEquals(4 * kvHeads, heads.size(), heads.toString());
        for (Row r : heads) {
            assertEquals("attention_kv_group", r.getAs("unit_kind"));
        }

        // The %sql paragraph: one row per pruned layer (conf/demo.conf prunes layers 1..4), each with every MLP
        // channel of the demo model.
        int channels = new ObjectMapper().readTree(Path.of("models/spruce-tiny/config.json").toFile())
                .path("intermediate_size").asInt();
        List<Row> perLayer = spark.sql(sql.get(0)).collectAsList();
        assertEquals(4, perLayer.size(), perLayer.toString());
        for (int i = 0; i < perLayer.size(); i++) {
            Row r = perLayer.get(i);
            assertEquals(i + 1, (int) r.getAs("layer"));
            assertEquals(channels, (long) r.getAs("channels"));
            double mean = r.getAs("mean_score");
            assertTrue(Double.isFinite(mean) && mean >= 0, r.toString());
        }
    }

    private static IMain interpreter(PrintWriter log) {
        Settings settings = new Settings();
        settings.usejavacp().value_$eq(Boolean.TRUE);
        // Surefire starts the JVM from a manifest-only jar, so java.class.path alone would hide spruce and Spark.
        settings.classpath().value_$eq(System.getProperty("surefire.test.class.path",
                System.getProperty("java.class.path")));
        return new IMain(settings, new ReplReporterImpl(settings, log));
    }

    private static void bind(IMain intp, String name, String type, Object value, StringWriter log) {
        Results.Result result = intp.bind(name, type, value, scala.collection.immutable.List$.MODULE$.empty());
        assertEquals(Results.Success$.MODULE$, result, "binding " + name + ":\n" + log);
    }
}
