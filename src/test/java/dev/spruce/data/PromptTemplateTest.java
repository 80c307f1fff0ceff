package dev.spruce.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.io.Fs;
import dev.spruce.tokenize.HfTokenizer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training templates: Alpaca's bytes unchanged, the collaborative template tokenized as prompt + response with
 * the prompt out of the loss (checked against the pieces encoded here with the bundled demo tokenizer), and user
 * files refused with an error naming the file and the expected placeholders.
 */
class PromptTemplateTest {
    /** The shipped resource, read from the source tree: an independent copy of what the class loads. */
    static final Path RESOURCES = Path.of("src/main/resources/dev/spruce/prompts");
    static final String DEMO_MODEL = "models/spruce-tiny";

    @TempDir
    static Path dir;
    static HfTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = HfTokenizer.load(Fs.path(DEMO_MODEL));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    /** The shipped template with its markers resolved by plain string replacement, not by the parser. */
    private static String expectedCollaborative(String instruction, String input) throws Exception {
        String text = Files.readString(RESOURCES.resolve("compresso-train.txt"));
        int open = text.indexOf("{if-input}");
        int close = text.indexOf("{end-if-input}");
        String section = text.substring(open + "{if-input}".length(), close);
        String kept = input.isEmpty() ? "" : section.replace("{input}", input);
        return (text.substring(0, open) + kept + text.substring(close + "{end-if-input}".length()))
                .replace("{instruction}", instruction);
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void collaborativeTemplateHasTheSystemInstructionThenTheUserInstruction() {
        String withInput = PromptTemplate.collaborative().prompt("Add the numbers.", "2 3");
        String without = PromptTemplate.collaborative().prompt("Name three colours.", "");
        for (String p : List.of(withInput, without)) {
            assertTrue(p.startsWith("###System Instruction:\nAttention, LLM!"), p);
            int at = 0;
            for (String theme : List.of("Improved Efficiency:", "Resource Utilization:", "Maintaining Quality:",
                    "Iterative Refinement:", "Collaboration:", "Continuous Learning:",
                    "Take full consideration of the System Instruction above", "###User Instruction:\n")) {
                int found = p.indexOf(theme, at);
                assertTrue(found > at, theme + " missing or out of order in\n" + p);
                at = found;
            }
            assertTrue(p.endsWith("\n\n### Response:\n"), p);
        }
        assertTrue(withInput.endsWith("###User Instruction:\nAdd the numbers.\n\n### Input:\n2 3\n\n### Response:\n"),
                withInput);
        assertTrue(without.endsWith("###User Instruction:\nName three colours.\n\n### Response:\n"), without);
        assertEquals(-1, without.indexOf("### Input:"));
    }

    /**
     * The sample is the prompt (with BOS) followed by the response and EOS; promptLength covers exactly the
     * prompt, so the loss sees the response tokens, which are those of the response text encoded alone.
     */
    @Test
    void collaborativeSamplesAreThePromptThenTheResponseWithOnlyTheResponseInTheLoss() throws Exception {
        String[][] records = {{"Add the numbers.", "2 3", "The sum is 5."},
                              {"Name three colours.", "", "Red, green and blue."}};
        for (String[] r : records) {
            TokenSample s = InstructionTokens.tokenize(tokenizer, 7, PromptTemplate.collaborative(), r[0], r[1], r[2],
                    2048, false);
            int[] prompt = tokenizer.encode(expectedCollaborative(r[0], r[1]), true);
            int[] response = tokenizer.encode(r[2], false);
            assertEquals(tokenizer.bosId(), prompt[0]);
            assertArrayEquals(concat(prompt, response, new int[] {tokenizer.eosId()}), s.getTokens(), r[0]);
            assertEquals(prompt.length, s.getPromptLength(), "the prompt and only the prompt is out of the loss");
            assertArrayEquals(concat(response, new int[] {tokenizer.eosId()}),
                    Arrays.copyOfRange(s.getTokens(), s.getPromptLength(), s.getTokens().length));
            assertEquals(7, s.getId());
            assertEquals(r[1].isEmpty() ? 299 : 311, prompt.length, "prompt tokens quoted in docs/methods/compresso.md");
        }
    }

    @Test
    void aCutoffBelowTheCollaborativePromptTrainsNothing() throws Exception {
        int promptTokens = tokenizer.encode(expectedCollaborative("Say hi.", ""), true).length;
        assertEquals(null, InstructionTokens.tokenize(tokenizer, 0, PromptTemplate.collaborative(), "Say hi.", "",
                "hi", promptTokens, false));
        TokenSample one = InstructionTokens.tokenize(tokenizer, 0, PromptTemplate.collaborative(), "Say hi.", "",
                "hi", promptTokens + 1, false);
        assertEquals(promptTokens + 1, one.getTokens().length, "one response token, no room for EOS");
    }

    @Test
    void alpacaIsTheDefaultAndKeepsTheReferenceBytes() {
        assertSame(PromptTemplate.ALPACA, PromptTemplate.forChoice(" Alpaca ", "spruce.recover.data.template"));
        assertEquals(AlpacaPrompter.prompt("Add.", "2 3"), PromptTemplate.ALPACA.prompt("Add.", "2 3"));
        assertEquals(AlpacaPrompter.prompt("Hi.", ""), PromptTemplate.ALPACA.prompt("Hi.", ""));
        TokenSample before = InstructionTokens.tokenize(tokenizer, 3, "Add.", "2 3", "5", 256, false);
        TokenSample explicit = InstructionTokens.tokenize(tokenizer, 3, PromptTemplate.ALPACA, "Add.", "2 3", "5", 256,
                false);
        assertArrayEquals(tokenizer.encode(AlpacaPrompter.prompt("Add.", "2 3") + "5", true),
                Arrays.copyOf(before.getTokens(), before.getTokens().length - 1));
        assertArrayEquals(before.getTokens(), explicit.getTokens());
        assertEquals(before.getPromptLength(), explicit.getPromptLength());
    }

    /** The template syntax can say Alpaca exactly: the parser checked against the reference strings. */
    @Test
    void aUserFileWritingAlpacaInTemplateSyntaxGivesAlpacasBytes() throws Exception {
        Path file = Files.writeString(dir.resolve("alpaca-template.txt"), "Below is an instruction that describes a "
                + "task{if-input}, paired with an input that provides further context{end-if-input}. Write a response "
                + "that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n{if-input}"
                + "### Input:\n{input}\n\n{end-if-input}### Response:\n");
        PromptTemplate t = PromptTemplate.forChoice(file.toString(), "spruce.recover.data.template");
        assertEquals(file.toString(), t.name());
        assertEquals(AlpacaPrompter.prompt("Add.", "2 3"), t.prompt("Add.", "2 3"));
        assertEquals(AlpacaPrompter.prompt("Hi.", ""), t.prompt("Hi.", ""));
        assertEquals(AlpacaPrompter.prompt("Hi.", null), t.prompt("Hi.", null));
        // Inserted values are not scanned again for placeholders.
        assertEquals(AlpacaPrompter.prompt("Echo {input}.", "x"), t.prompt("Echo {input}.", "x"));
    }

    @Test
    void aTemplateSurvivesJavaSerializationAsSparkShipsIt() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(PromptTemplate.collaborative());
        }
        PromptTemplate back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (PromptTemplate) in.readObject();
        }
        assertEquals(PromptTemplate.collaborative().prompt("Add.", "2 3"), back.prompt("Add.", "2 3"));
        assertEquals(PromptTemplate.collaborative().prompt("Hi.", ""), back.prompt("Hi.", ""));
    }

    @Test
    void aUserFileMissingAPlaceholderNamesTheFileAndWhatWasExpected() throws Exception {
        Path noInput = Files.writeString(dir.resolve("no-input.txt"), "System: be brief.\n{instruction}\n### Response:\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PromptTemplate.forChoice(noInput.toString(), "spruce.recover.data.template"));
        assertEquals("prompt template " + noInput + ": it has 1 {instruction} and 0 {input} (in 0 {if-input} "
                + "sections); expected {instruction} once outside {if-input}...{end-if-input} sections, and {input} "
                + "once inside one", e.getMessage());

        Path typo = Files.writeString(dir.resolve("typo.txt"), "{instructions}\n{if-input}{input}{end-if-input}");
        e = assertThrows(IllegalArgumentException.class,
                () -> PromptTemplate.forChoice(typo.toString(), "spruce.recover.data.template"));
        assertTrue(e.getMessage().startsWith("prompt template " + typo + ": unknown placeholder {instructions} at "
                + "character 0; expected {instruction} once"), e.getMessage());

        Path outside = Files.writeString(dir.resolve("outside.txt"), "{instruction} {input}");
        e = assertThrows(IllegalArgumentException.class,
                () -> PromptTemplate.forChoice(outside.toString(), "spruce.recover.data.template"));
        assertTrue(e.getMessage().startsWith("prompt template " + outside + ": {input} is outside an {if-input}"),
                e.getMessage());

        String missing = dir.resolve("absent.txt").toString();
        e = assertThrows(IllegalArgumentException.class,
                () -> PromptTemplate.forChoice(missing, "spruce.recover.data.template"));
        assertEquals("spruce.recover.data.template = " + missing + ": no such file; expected alpaca, collaborative or "
                + "the path of a prompt file", e.getMessage());

        Path latin1 = Files.write(dir.resolve("latin1.txt"), "caf\u00e9 {instruction}".getBytes(StandardCharsets.ISO_8859_1));
        e = assertThrows(IllegalArgumentException.class,
                () -> PromptTemplate.forChoice(latin1.toString(), "spruce.recover.data.template"));
        assertEquals("prompt file " + latin1 + " is not UTF-8 text; expected a UTF-8 prompt", e.getMessage());
    }

    @Test
    void evaluationPrefixesAreTheShippedTextsAndAFileIsPlainText() throws Exception {
        String setting = "spruce.evaluate.prompt-prefix";
        assertEquals("", CollaborativePrompt.evaluationPrefix("none", setting));
        String training = CollaborativePrompt.evaluationPrefix("training", setting);
        String past = CollaborativePrompt.evaluationPrefix("PAST", setting);
        assertEquals(Files.readString(RESOURCES.resolve("compresso-eval-training.txt")), training);
        assertEquals(Files.readString(RESOURCES.resolve("compresso-eval-past.txt")), past);
        for (String p : List.of(training, past)) {
            assertTrue(p.startsWith("###System Instruction:\nAttention, LLM!"), p);
            assertTrue(p.endsWith("\n\n###Input:\n"), p);
            for (String theme : List.of("Improved Efficiency:", "Resource Utilization:", "Maintaining Quality:",
                    "Iterative Refinement:", "Collaboration:", "Continuous Learning:")) {
                assertTrue(p.contains("\n" + theme + " "), theme + " missing in\n" + p);
            }
        }
        assertTrue(past.contains("You have undergone pruning"), past);
        // The training prefix is the training template's system instruction, word for word.
        String template = Files.readString(RESOURCES.resolve("compresso-train.txt"));
        String system = template.substring(0, template.indexOf("Take full consideration"));
        assertTrue(training.startsWith(system), "the evaluation prefix repeats the training system instruction");

        Path file = Files.writeString(dir.resolve("prefix.txt"), "You are a small model.\n\n");
        assertEquals("You are a small model.\n\n", CollaborativePrompt.evaluationPrefix(file.toString(), setting));
        Path template2 = Files.writeString(dir.resolve("template-as-prefix.txt"), "Answer: {instruction}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CollaborativePrompt.evaluationPrefix(template2.toString(), setting));
        assertTrue(e.getMessage().startsWith("evaluation prompt prefix " + template2 + " contains {instruction}; "
                + "expected plain text without placeholders"), e.getMessage());
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        e = assertThrows(IllegalArgumentException.class, () -> CollaborativePrompt.evaluationPrefix(empty.toString(), setting));
        assertTrue(e.getMessage().startsWith("evaluation prompt prefix " + empty + " is empty"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CollaborativePrompt.evaluationPrefix("  ", setting));
        assertTrue(e.getMessage().startsWith(setting + " is empty; expected none, training, past"), e.getMessage());
    }
}
