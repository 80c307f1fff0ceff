package dev.spruce.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.io.Fs;
import dev.spruce.tokenize.HfTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The evaluation prefix in the request builders, with the bundled demo tokenizer and the shipped prefix texts
 * (read from the source tree and encoded here): none changes nothing, training and past put exactly the prefix ids
 * before the request's own ids, and perplexity windows score the same tokens as without.
 */
class PromptPrefixTest {
    static final Path PROMPTS = Path.of("src/main/resources/dev/spruce/prompts");
    static HfTokenizer tokenizer;
    static List<PromptPrefix> prefixes = new ArrayList<>();
    static final List<String> CORPUS = List.of(
            "It was the best of times, it was the worst of times, it was the age of wisdom.",
            "The old man walked slowly along the river, counting the boats that passed him by.",
            "",
            "She opened the letter, read it twice, and then put it carefully back in its envelope.",
            "In the morning the village was quiet, and the fields were white with frost.");

    @BeforeAll
    static void load() throws Exception {
        tokenizer = HfTokenizer.load(Fs.path("models/spruce-tiny"));
        for (String name : List.of("training", "past")) {
            String text = Files.readString(PROMPTS.resolve("compresso-eval-" + name + ".txt"));
            prefixes.add(new PromptPrefix(name, tokenizer.encode(text, false)));
        }
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static List<LoglikelihoodRequest> requests(McRequestBuilder builder) {
        List<LoglikelihoodRequest> out = new ArrayList<>();
        out.add(builder.request("story#1", 0, "The cat sat on the", " mat"));
        out.add(builder.request("story#1", 1, "The cat sat on the", " moon"));
        out.add(builder.request("boolq#2", 0, "Frost forms on cold nights.\nQuestion: is frost cold?\nAnswer:", " yes"));
        out.add(builder.request("generic#3", 0, "", " a"));
        return out;
    }

    @Test
    void theShippedPrefixesCostTheirTokensAndDifferFromEachOther() {
        assertEquals(273, prefixes.get(0).length(), "training prefix tokens with the demo tokenizer");
        assertEquals(277, prefixes.get(1).length(), "past prefix tokens with the demo tokenizer");
        assertFalse(Arrays.equals(prefixes.get(0).ids(), prefixes.get(1).ids()));
        for (PromptPrefix p : prefixes) {
            assertTrue(Arrays.stream(p.ids()).noneMatch(id -> id == tokenizer.bosId()), "no BOS in the prefix");
        }
    }

    @Test
    void noneGivesTheRequestsAndWindowsOfToday() {
        List<LoglikelihoodRequest> today = requests(new McRequestBuilder(tokenizer, 256));
        List<LoglikelihoodRequest> none = requests(new McRequestBuilder(tokenizer, 256, PromptPrefix.NONE));
        for (int i = 0; i < today.size(); i++) {
            assertArrayEquals(today.get(i).contextIds(), none.get(i).contextIds());
            assertArrayEquals(today.get(i).continuationIds(), none.get(i).continuationIds());
        }
        for (PerplexityProtocol protocol : List.of(PerplexityProtocol.nonOverlapping(16), PerplexityProtocol.sliding(16, 6))) {
            List<PerplexityWindow> plain = protocol.windows(CORPUS, tokenizer);
            List<PerplexityWindow> withNone = protocol.windows(CORPUS, tokenizer, PromptPrefix.NONE);
            assertEquals(plain.size(), withNone.size());
            for (int i = 0; i < plain.size(); i++) {
                assertArrayEquals(plain.get(i).ids(), withNone.get(i).ids());
                assertEquals(plain.get(i).firstScored(), withNone.get(i).firstScored());
            }
        }
    }

    @Test
    void trainingAndPastRequestsAreThePrefixIdsThenTheRequestsOwnIds() {
        List<LoglikelihoodRequest> today = requests(new McRequestBuilder(tokenizer, 2048));
        for (PromptPrefix prefix : prefixes) {
            List<LoglikelihoodRequest> prefixed = requests(new McRequestBuilder(tokenizer, 2048, prefix));
            for (int i = 0; i < today.size(); i++) {
                LoglikelihoodRequest before = today.get(i);
                LoglikelihoodRequest after = prefixed.get(i);
                assertArrayEquals(concat(prefix.ids(), before.contextIds()), after.contextIds(), prefix.name() + " " + i);
                assertArrayEquals(before.continuationIds(), after.continuationIds());
                assertEquals(before.firstPredictingPosition() + prefix.length(), after.firstPredictingPosition());
                assertEquals(before.docKey(), after.docKey());
                assertEquals(before.choiceIndex(), after.choiceIndex());
            }
            // An empty context is still the end-of-text token, now after the prefix.
            assertArrayEquals(concat(prefix.ids(), new int[] {tokenizer.eosId()}), prefixed.get(3).contextIds());
        }
    }

    /** Within max-length the prefix is kept whole and the request's own context is cut from the left. */
    @Test
    void aLongRequestKeepsThePrefixAndLosesItsOwnContextFromTheLeft() {
        PromptPrefix prefix = prefixes.get(0);
        String context = "One two three four five six seven eight nine ten eleven twelve.";
        int[] own = tokenizer.encode(context, false);
        int[] continuation = tokenizer.encode(" done", false);
        int maxLength = prefix.length() + continuation.length + 3; // room for 4 of the context's own tokens
        LoglikelihoodRequest r = new McRequestBuilder(tokenizer, maxLength, prefix).request("g#1", 0, context, " done");
        assertArrayEquals(concat(prefix.ids(), Arrays.copyOfRange(own, own.length - 4, own.length)), r.contextIds());
        assertEquals(maxLength, r.inputIds().length, "the model reads max-length tokens");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new McRequestBuilder(tokenizer, prefix.length(), prefix));
        assertEquals("the prompt prefix training (273 tokens) leaves no room in maxLength=273; expected at most 272 "
                + "prefix tokens", e.getMessage());
        int[] twoOrMore = tokenizer.encode(" done and dusted", false);
        assertTrue(twoOrMore.length >= 2);
        e = assertThrows(IllegalArgumentException.class, () -> new McRequestBuilder(tokenizer, prefix.length() + 1, prefix)
                .request("g#2", 1, "ctx", " done and dusted"));
        assertEquals("g#2 choice 1: the continuation ' done and dusted' has " + twoOrMore.length + " tokens, expected 1 "
                + "to maxLength=274 minus the prompt prefix training (273 tokens) = 1", e.getMessage());
    }

    @Test
    void perplexityWindowsGetThePrefixAfterTheBosAndScoreTheSameTokens() {
        int[] corpus = PerplexityProtocol.tokenize(CORPUS, tokenizer);
        assertEquals(tokenizer.bosId(), corpus[0]);
        for (PerplexityProtocol protocol : List.of(PerplexityProtocol.nonOverlapping(16), PerplexityProtocol.sliding(16, 6))) {
            List<PerplexityWindow> plain = protocol.windows(CORPUS, tokenizer);
            for (PromptPrefix prefix : prefixes) {
                List<PerplexityWindow> prefixed = protocol.windows(CORPUS, tokenizer, prefix);
                assertEquals(plain.size(), prefixed.size());
                for (int i = 0; i < plain.size(); i++) {
                    int[] ids = plain.get(i).ids();
                    PerplexityWindow w = prefixed.get(i);
                    int[] expected = i == 0
                            ? concat(concat(new int[] {ids[0]}, prefix.ids()), Arrays.copyOfRange(ids, 1, ids.length))
                            : concat(prefix.ids(), ids);
                    assertArrayEquals(expected, w.ids(), protocol + " window " + i);
                    assertEquals(plain.get(i).firstScored() + prefix.length(), w.firstScored());
                    assertEquals(plain.get(i).predictedTokens(), w.predictedTokens());
                    // The scored tokens themselves are unchanged.
                    assertArrayEquals(Arrays.copyOfRange(ids, plain.get(i).firstScored(), ids.length),
                            Arrays.copyOfRange(w.ids(), w.firstScored(), w.ids().length));
                }
                assertEquals(PerplexityProtocol.predictedTokens(plain), PerplexityProtocol.predictedTokens(prefixed));
            }
        }
        assertEquals(0, PromptPrefix.NONE.length());
    }
}
