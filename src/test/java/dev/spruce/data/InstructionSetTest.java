package dev.spruce.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.spark.TestSpark;
import dev.spruce.tokenize.HfTokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstructionSetTest {
    @TempDir
    static Path dir;
    static String tokenizer;
    static SparkSession spark;

    @BeforeAll
    static void setUp() throws Exception {
        spark = TestSpark.session();
        tokenizer = TestTokenizers.bytes(Files.createDirectories(dir.resolve("tok")));
    }

    @Test
    void templateMatchesTheReferenceText() {
        assertEquals("Below is an instruction that describes a task, paired with an input that provides further "
                + "context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd."
                + "\n\n### Input:\n2 3\n\n### Response:\n", AlpacaPrompter.prompt("Add.", "2 3"));
        assertEquals("Below is an instruction that describes a task. Write a response that appropriately completes "
                + "the request.\n\n### Instruction:\nHi.\n\n### Response:\n", AlpacaPrompter.prompt("Hi.", ""));
    }

    @Test
    void recordsAreTokenizedCountedAndMaskedLikeTheReference() throws Exception {
        String json = "[{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"hi\"},"
                + "{\"instruction\": \"Add.\", \"input\": \"2 3\", \"output\": \"5\"},"
                + "{\"instruction\": \"No output here.\", \"input\": \"\"},"
                + "{\"instruction\": \"" + "long ".repeat(80) + "\", \"output\": \"x\"}]";
        Path file = Files.writeString(dir.resolve("alpaca.json"), json);
        int cutoff = 260;
        InstructionSet set = InstructionSet.load(spark, new TextSource(file.toString(), "json", null), tokenizer,
                cutoff, false, 42);
        assertEquals(4, set.records());
        assertEquals(1, set.malformed());
        assertEquals(1, set.promptTooLong());
        assertEquals(2, set.usable());
        List<TokenSample> samples = new java.util.ArrayList<>(set.samples().collectAsList());
        samples.sort(Comparator.comparingLong(TokenSample::getId));
        try (HfTokenizer tok = HfTokenizer.load(dev.spruce.io.Fs.path(tokenizer))) {
            for (TokenSample s : samples) {
                String prompt;
                String output;
                if (s.getTokens().length == AlpacaPrompter.prompt("Say hi.", "").getBytes(StandardCharsets.UTF_8).length + 4) {
                    prompt = AlpacaPrompter.prompt("Say hi.", "");
                    output = "hi";
                } else {
                    prompt = AlpacaPrompter.prompt("Add.", "2 3");
                    output = "5";
                }
                int[] expected = tok.encode(prompt + output, true);
                expected = java.util.Arrays.copyOf(expected, expected.length + 1);
                expected[expected.length - 1] = tok.eosId();
                assertArrayEquals(expected, s.getTokens());
                assertEquals(prompt.getBytes(StandardCharsets.UTF_8).length + 1, s.getPromptLength());
            }
        }
    }

    /** The template travels to the executors with the task: each sample is its collaborative prompt, then output. */
    @Test
    void theCollaborativeTemplateIsAppliedOnTheExecutors() throws Exception {
        String json = "[{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"hi\"},"
                + "{\"instruction\": \"Add.\", \"input\": \"2 3\", \"output\": \"5\"}]";
        Path file = Files.writeString(dir.resolve("alpaca-collaborative.json"), json);
        PromptTemplate template = PromptTemplate.collaborative();
        InstructionSet set = InstructionSet.load(spark, new TextSource(file.toString(), "json", null), tokenizer,
                2048, false, 42, template);
        assertEquals(2, set.usable());
        List<TokenSample> samples = new java.util.ArrayList<>(set.samples().collectAsList());
        samples.sort(Comparator.comparingInt(s -> s.getTokens().length));
        String[][] records = {{"Say hi.", "", "hi"}, {"Add.", "2 3", "5"}};
        try (HfTokenizer tok = HfTokenizer.load(dev.spruce.io.Fs.path(tokenizer))) {
            for (int i = 0; i < 2; i++) {
                String prompt = template.prompt(records[i][0], records[i][1]);
                assertTrue(prompt.startsWith("###System Instruction:\n") && prompt.endsWith("### Response:\n"), prompt);
                // The byte tokenizer: one token per UTF-8 byte, BOS first, EOS last.
                byte[] text = (prompt + records[i][2]).getBytes(StandardCharsets.UTF_8);
                int[] tokens = samples.get(i).getTokens();
                assertEquals(text.length + 2, tokens.length);
                assertArrayEquals(tok.encode(prompt + records[i][2], true), java.util.Arrays.copyOf(tokens, tokens.length - 1));
                assertEquals(prompt.getBytes(StandardCharsets.UTF_8).length + 1, samples.get(i).getPromptLength());
            }
        }
    }

    @Test
    void aFileThatIsNotJsonIsAClearError() throws Exception {
        Path file = Files.writeString(dir.resolve("broken.json"), "this is not json\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> InstructionSet.load(spark,
                new TextSource(file.toString(), "jsonl", null), tokenizer, 64, false, 1));
        assertTrue(e.getMessage().contains("broken.json") && e.getMessage().contains("field 'instruction' is not a column"),
                e.getMessage());
    }
}
