package dev.spruce.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spruce.io.Fs;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each task's Hugging Face layout against the (context, continuation) pairs that lm-evaluation-harness v0.3
 * builds for it, written out by hand from the harness' task files.
 */
class McTaskLoaderTest {
    @TempDir
    java.nio.file.Path dir;

    private McLoadResult load(McFormat format, String... lines) throws IOException {
        java.nio.file.Path file = dir.resolve(format.defaultTaskName() + ".jsonl");
        Files.writeString(file, String.join("\n", lines) + "\n");
        return McTaskLoader.load(McTask.of(format), Fs.path(file.toString()));
    }

    private static void assertChoice(String context, String continuation, String normText, McChoice actual) {
        assertEquals(new McChoice(context, continuation, normText), actual);
    }

    @Test
    void boolq() throws IOException {
        McLoadResult result = load(McFormat.BOOLQ,
                "{\"question\": \"is the sky blue\", \"passage\": \"The sky is blue on clear days.\", \"idx\": 0, \"label\": 1}",
                "{\"question\": \"do fish fly\", \"passage\": \"Fish swim.\", \"idx\": 1, \"label\": 0}");
        assertEquals(List.of(), result.skipped());
        McDoc yes = result.docs().get(0);
        String context = "The sky is blue on clear days.\nQuestion: is the sky blue?\nAnswer:";
        assertChoice(context, " no", "no", yes.choices().get(0));
        assertChoice(context, " yes", "yes", yes.choices().get(1));
        assertEquals(1, yes.gold());
        assertEquals("boolq#1", yes.docKey());
        McDoc no = result.docs().get(1);
        assertChoice("Fish swim.\nQuestion: do fish fly?\nAnswer:", " no", "no", no.choices().get(0));
        assertEquals(0, no.gold());
        assertEquals(2, no.lineNumber());
    }

    @Test
    void piqa() throws IOException {
        McLoadResult result = load(McFormat.PIQA,
                "{\"goal\": \"How do you open a jar?\", \"sol1\": \"Twist the lid.\", \"sol2\": \"Paint the lid.\", \"label\": 0}",
                "{\"goal\": \"Dry wet shoes\", \"sol1\": \"Put them in the oven at 500F.\", \"sol2\": \"Stuff them with newspaper.\", \"label\": 1}");
        McDoc first = result.docs().get(0);
        assertChoice("Question: How do you open a jar?\nAnswer:", " Twist the lid.", "Twist the lid.", first.choices().get(0));
        assertChoice("Question: How do you open a jar?\nAnswer:", " Paint the lid.", "Paint the lid.", first.choices().get(1));
        assertEquals(0, first.gold());
        McDoc second = result.docs().get(1);
        assertChoice("Question: Dry wet shoes\nAnswer:", " Stuff them with newspaper.", "Stuff them with newspaper.",
                second.choices().get(1));
        assertEquals(1, second.gold());
    }

    @Test
    void hellaswagCapitalizesAndCleansWikiHowArtifacts() throws IOException {
        McLoadResult result = load(McFormat.HELLASWAG,
                "{\"ind\": 24, \"activity_label\": \"Roof shingle removal\", \"ctx_a\": \"A man is sitting on a roof.\", "
                        + "\"ctx_b\": \"he\", \"endings\": [\"is using wrap to wrap a pair of skis.\", "
                        + "\"is ripping level tiles off.\", \"is holding a rubik's cube.\", "
                        + "\"starts pulling up roofing on a roof.\"], \"source_id\": \"activitynet~v_-JhWjGDPHMY\", "
                        + "\"split\": \"val\", \"split_type\": \"indomain\", \"label\": \"3\"}",
                "{\"activity_label\": \"Home and Garden\", "
                        + "\"ctx_a\": \"[header] How to grow tomatoes [title] Pick a sunny spot.\", "
                        + "\"ctx_b\": \"MAKE sure  the soil drains\", "
                        + "\"endings\": [\"[substeps] Water it daily.\", \" Plant  deep. \", \"Wait.\", \"Dig.\"], \"label\": \"0\"}");
        assertEquals(List.of(), result.skipped());

        McDoc roof = result.docs().get(0);
        String roofContext = "Roof shingle removal: A man is sitting on a roof. He";
        assertChoice(roofContext, " is using wrap to wrap a pair of skis.", "is using wrap to wrap a pair of skis.",
                roof.choices().get(0));
        assertChoice(roofContext, " starts pulling up roofing on a roof.", "starts pulling up roofing on a roof.",
                roof.choices().get(3));
        assertEquals(3, roof.gold());

        // capitalize() lower-cases "MAKE"; " [title]" -> ". "; "[header]" and "[substeps]" removed; "  " -> " " once.
        McDoc garden = result.docs().get(1);
        String gardenContext = "Home and Garden: How to grow tomatoes. Pick a sunny spot. Make sure the soil drains";
        // The ending is stripped before "[substeps]" is removed, so its leading space survives, as in the harness.
        assertChoice(gardenContext, "  Water it daily.", " Water it daily.", garden.choices().get(0));
        assertChoice(gardenContext, " Plant deep.", "Plant deep.", garden.choices().get(1));
        assertEquals(0, garden.gold());
    }

    @Test
    void winograndeScoresTheSharedRestOfTheSentenceAfterEachOption() throws IOException {
        McLoadResult result = load(McFormat.WINOGRANDE,
                "{\"sentence\": \"Sarah was a much better surgeon than Maria so _ always got the harder cases.\", "
                        + "\"option1\": \"Sarah\", \"option2\": \"Maria\", \"answer\": \"1\"}",
                "{\"sentence\": \"The trophy didn't fit into the suitcase because the _ was too large. \", "
                        + "\"option1\": \"trophy\", \"option2\": \"suitcase\", \"answer\": \"2\"}");
        McDoc sarah = result.docs().get(0);
        assertChoice("Sarah was a much better surgeon than Maria so Sarah", " always got the harder cases.", "Sarah",
                sarah.choices().get(0));
        assertChoice("Sarah was a much better surgeon than Maria so Maria", " always got the harder cases.", "Maria",
                sarah.choices().get(1));
        assertEquals(0, sarah.gold());
        McDoc trophy = result.docs().get(1);
        assertChoice("The trophy didn't fit into the suitcase because the suitcase", " was too large.", "suitcase",
                trophy.choices().get(1));
        assertEquals(1, trophy.gold());
    }

    @Test
    void winograndeKeepsTheHarnessAppendContextForMultiParagraphSentences() throws IOException {
        // append_context splits the gold context on "\n\n", drops its last part and appends the option's context.
        McLoadResult result = load(McFormat.WINOGRANDE,
                "{\"sentence\": \"Intro.\\n\\nThen _ left.\", \"option1\": \"Ann\", \"option2\": \"Bob\", \"answer\": \"1\"}");
        McDoc doc = result.docs().get(0);
        assertChoice("Intro.\n\nIntro.\n\nThen Ann", " left.", "Ann", doc.choices().get(0));
        assertChoice("Intro.\n\nIntro.\n\nThen Bob", " left.", "Bob", doc.choices().get(1));
    }

    @Test
    void arcMapsNumericAnswerKeysAndUsesTheLetterPosition() throws IOException {
        McLoadResult result = load(McFormat.ARC_EASY,
                "{\"id\": \"Mercury_7175875\", \"question\": \"Which is the most likely effect of faster rotation?\", "
                        + "\"choices\": {\"text\": [\"Planetary density will decrease.\", \"Planetary years will become longer.\", "
                        + "\"Planetary days will become shorter.\", \"Planetary gravity will become stronger.\"], "
                        + "\"label\": [\"A\", \"B\", \"C\", \"D\"]}, \"answerKey\": \"C\"}",
                "{\"id\": \"NYSEDREGENTS_2015_4_8\", \"question\": \"Which is a mineral?\", "
                        + "\"choices\": {\"text\": [\"wood\", \"glass\", \"plastic\", \"quartz\"], "
                        + "\"label\": [\"1\", \"2\", \"3\", \"4\"]}, \"answerKey\": \"4\"}");
        McDoc rotation = result.docs().get(0);
        String context = "Question: Which is the most likely effect of faster rotation?\nAnswer:";
        assertChoice(context, " Planetary density will decrease.", "Planetary density will decrease.",
                rotation.choices().get(0));
        assertEquals(4, rotation.choices().size());
        assertEquals(2, rotation.gold());
        McDoc mineral = result.docs().get(1);
        assertChoice("Question: Which is a mineral?\nAnswer:", " quartz", "quartz", mineral.choices().get(3));
        assertEquals(3, mineral.gold());
    }

    @Test
    void arcChallengeUsesTheArcLayoutUnderItsOwnName() throws IOException {
        McLoadResult result = load(McFormat.ARC_CHALLENGE,
                "{\"id\": \"Mercury_SC_415702\", \"question\": \"George wants to warm his hands quickly by rubbing them. "
                        + "Which skin surface will produce the most heat?\", \"choices\": {\"text\": [\"dry palms\", "
                        + "\"wet palms\", \"palms covered with oil\", \"palms covered with lotion\"], "
                        + "\"label\": [\"A\", \"B\", \"C\", \"D\"]}, \"answerKey\": \"A\"}");
        McDoc doc = result.docs().get(0);
        assertEquals("arc_challenge#1", doc.docKey());
        assertChoice("Question: George wants to warm his hands quickly by rubbing them. Which skin surface will "
                + "produce the most heat?\nAnswer:", " dry palms", "dry palms", doc.choices().get(0));
        assertEquals(0, doc.gold());
    }

    @Test
    void openbookqaUsesTheBareQuestionStem() throws IOException {
        McLoadResult result = load(McFormat.OPENBOOKQA,
                "{\"id\": \"7-980\", \"question_stem\": \"The sun is responsible for\", \"choices\": {\"text\": "
                        + "[\"puppies learning new tricks\", \"children growing up and getting old\", "
                        + "\"flowers wilting in a vase\", \"plants sprouting, blooming and wilting\"], "
                        + "\"label\": [\"A\", \"B\", \"C\", \"D\"]}, \"answerKey\": \"D\"}",
                "{\"id\": \"7-584\", \"question_stem\": \"When food is reduced in the stomach\", \"choices\": {\"text\": "
                        + "[\"the mind needs time to digest\", \"take a second to digest what I said\", "
                        + "\"nutrients are being deconstructed\", \"reader's digest is a body of works\"], "
                        + "\"label\": [\"A\", \"B\", \"C\", \"D\"]}, \"answerKey\": \" C \"}");
        McDoc sun = result.docs().get(0);
        assertChoice("The sun is responsible for", " plants sprouting, blooming and wilting",
                "plants sprouting, blooming and wilting", sun.choices().get(3));
        assertEquals(3, sun.gold());
        assertEquals(2, result.docs().get(1).gold());
    }

    @Test
    void genericLayout() throws IOException {
        McLoadResult result = load(McFormat.GENERIC,
                "{\"context\": \"2 + 2 =\", \"choices\": [\"4\", \"5\"], \"label\": 0}",
                "{\"context\": \"\", \"choices\": [\"a\", \"b\", \"c\"], \"label\": 2}");
        assertChoice("2 + 2 =", " 4", "4", result.docs().get(0).choices().get(0));
        assertChoice("", " c", "c", result.docs().get(1).choices().get(2));
        assertEquals(2, result.docs().get(1).gold());
    }

    @Test
    void malformedRecordsAreSkippedWithTheirLineNumbers() throws IOException {
        McLoadResult result = load(McFormat.GENERIC,
                "{\"context\": \"first\", \"choices\": [\"a\", \"b\"], \"label\": 1}",
                "{\"context\": \"no label\", \"choices\": [\"a\", \"b\"]}",
                "{\"context\": \"label too big\", \"choices\": [\"a\", \"b\"], \"label\": 2}",
                "{\"context\": \"empty choices\", \"choices\": [], \"label\": 0}",
                "{\"context\": \"broken\", \"choices\": [\"a\"",
                "",
                "{\"context\": \"last\", \"choices\": [\"a\", \"b\", \"c\"], \"label\": 2}");
        assertEquals(List.of(1L, 7L), result.docs().stream().map(McDoc::lineNumber).toList());
        List<SkippedRecord> skipped = result.skipped();
        assertEquals(List.of(2L, 3L, 4L, 5L), skipped.stream().map(SkippedRecord::lineNumber).toList());
        String file = Fs.path(dir.resolve("generic.jsonl").toString()).toString();
        assertEquals(new SkippedRecord("generic", file, 2, "missing field 'label'"), skipped.get(0));
        assertEquals(new SkippedRecord("generic", file, 3, "field 'label' is 2, out of range for 2 choices"),
                skipped.get(1));
        assertEquals(new SkippedRecord("generic", file, 4, "no choices"), skipped.get(2));
        assertEquals(true, skipped.get(3).reason().startsWith("invalid JSON: "), skipped.get(3).reason());
    }

    @Test
    void taskSpecificLabelProblemsAreSkipped() throws IOException {
        McLoadResult hellaswag = load(McFormat.HELLASWAG,
                "{\"activity_label\": \"A\", \"ctx_a\": \"b\", \"ctx_b\": \"c\", \"endings\": [\"d\", \"e\"], \"label\": \"\"}");
        assertEquals("field 'label' is empty", hellaswag.skipped().get(0).reason());

        McLoadResult arc = load(McFormat.ARC_EASY,
                "{\"question\": \"q\", \"choices\": {\"text\": [\"x\", \"y\"], \"label\": [\"A\", \"B\"]}, \"answerKey\": \"F\"}",
                "{\"question\": \"q\", \"choices\": {\"text\": [\"x\", \"y\"], \"label\": [\"A\", \"B\"]}, \"answerKey\": \"C\"}");
        assertEquals("field 'answerKey' is 'F', expected one of A, B, C, D, E", arc.skipped().get(0).reason());
        assertEquals("field 'answerKey' is 'C', out of range for 2 choices", arc.skipped().get(1).reason());

        McLoadResult winogrande = load(McFormat.WINOGRANDE,
                "{\"sentence\": \"No blank here.\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"1\"}",
                "{\"sentence\": \"A _ b.\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"3\"}");
        assertEquals("field 'sentence' has no '_' blank", winogrande.skipped().get(0).reason());
        assertEquals("field 'answer' is 3, expected \"1\" or \"2\"", winogrande.skipped().get(1).reason());
        assertEquals(0, winogrande.docs().size());
    }
}
