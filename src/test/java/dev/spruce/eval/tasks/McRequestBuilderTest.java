package dev.spruce.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class McRequestBuilderTest {
    private final CharTokenizer tokenizer = new CharTokenizer();

    @Test
    void encodesContextAndContinuationSeparatelyWithoutBos() {
        McDoc doc = new McDoc("piqa", 3, List.of(
                new McChoice("Q:", " ab", "ab"),
                new McChoice("Q:", " c", "c")), 1);
        List<LoglikelihoodRequest> requests = new McRequestBuilder(tokenizer, 2048).requests(doc);

        assertEquals(2, requests.size());
        LoglikelihoodRequest first = requests.get(0);
        assertEquals("piqa#3", first.docKey());
        assertEquals(0, first.choiceIndex());
        // 'Q' = 4 + 49, ':' = 4 + 26, ' ' = 4, 'a' = 69, 'b' = 70, 'c' = 71
        assertArrayEquals(new int[] {53, 30}, first.contextIds());
        assertArrayEquals(new int[] {4, 69, 70}, first.continuationIds());
        assertArrayEquals(new int[] {53, 30, 4, 69}, first.inputIds());
        assertEquals(1, first.firstPredictingPosition());
        assertEquals(1, requests.get(1).choiceIndex());
        assertArrayEquals(new int[] {4, 71}, requests.get(1).continuationIds());
    }

    @Test
    void emptyContextBecomesTheEndOfTextToken() {
        LoglikelihoodRequest request = new McRequestBuilder(tokenizer, 2048).request("generic#1", 0, "", " a");
        assertArrayEquals(new int[] {CharTokenizer.EOS}, request.contextIds());
        assertArrayEquals(new int[] {CharTokenizer.EOS, 4}, request.inputIds());
        assertEquals(0, request.firstPredictingPosition());
    }

    @Test
    void longRequestsLoseContextFromTheLeft() {
        // maxLength 4: context + continuation keep 5 tokens, so "abcdef" + " x" keeps "def" + " x".
        LoglikelihoodRequest request = new McRequestBuilder(tokenizer, 4).request("generic#1", 0, "abcdef", " x");
        assertArrayEquals(new int[] {72, 73, 74}, request.contextIds());
        assertArrayEquals(new int[] {4, 92}, request.continuationIds());
        assertEquals(4, request.inputIds().length); // the model reads maxLength tokens
    }

    @Test
    void continuationLongerThanTheModelIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new McRequestBuilder(tokenizer, 4).request("generic#9", 1, "ctx", " long"));
        assertEquals("generic#9 choice 1: the continuation ' long' has 5 tokens, expected 1 to maxLength=4",
                e.getMessage());
    }
}
