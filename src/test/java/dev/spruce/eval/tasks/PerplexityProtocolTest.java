package dev.spruce.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.spruce.eval.scoring.PerplexityResult;
import java.util.List;
import org.junit.jupiter.api.Test;

class PerplexityProtocolTest {
    private final CharTokenizer tokenizer = new CharTokenizer();

    /** Token ids written out by hand: BOS = 1, newline = 3, a printable character c = 4 + (c - ' '). */
    private static int[] chars(String s) {
        int[] ids = new int[s.length()];
        for (int i = 0; i < s.length(); i++) {
            ids[i] = s.charAt(i) == '\n' ? 3 : 4 + s.charAt(i) - ' ';
        }
        return ids;
    }

    @Test
    void nonOverlappingChunksOfThreeRecords() {
        // "the cat" + "\n\n" + "" + "\n\n" + "sat on it": 20 characters, 21 tokens with the BOS.
        List<String> records = List.of("the cat", "", "sat on it");
        assertEquals("the cat\n\n\n\nsat on it", PerplexityProtocol.joinRecords(records));

        List<PerplexityWindow> windows = PerplexityProtocol.nonOverlapping(8).windows(records, tokenizer);

        assertEquals(2, windows.size()); // floor(21 / 8); the last 5 tokens "on it" are dropped
        assertArrayEquals(new int[] {1, 88, 76, 73, 4, 71, 69, 88}, windows.get(0).ids()); // BOS "the cat"
        assertArrayEquals(chars("\n\n\n\nsat "), windows.get(1).ids());
        assertEquals(1, windows.get(0).firstScored());
        assertEquals(1, windows.get(1).firstScored());
        assertEquals(7, windows.get(0).predictedTokens());
        assertEquals(14, PerplexityProtocol.predictedTokens(windows));
    }

    @Test
    void onlyOneBosAtTheStartOfTheCorpus() {
        List<PerplexityWindow> windows = PerplexityProtocol.nonOverlapping(4).windows(List.of("abc", "defgh"), tokenizer);
        // BOS a b c | \n \n d e | f g h -> dropped
        assertEquals(2, windows.size());
        assertArrayEquals(new int[] {1, 69, 70, 71}, windows.get(0).ids());
        assertArrayEquals(new int[] {3, 3, 72, 73}, windows.get(1).ids());
    }

    @Test
    void slidingWindowScoresEveryTokenOnceWithEarlierContext() {
        int[] corpus = {1, 10, 11, 12, 13, 14, 15, 16, 17, 18}; // 10 tokens
        List<PerplexityWindow> windows = PerplexityProtocol.sliding(4, 2).windows(corpus);

        // begin 0: [0,4) scores 1..3; begin 2: [2,6) scores 4,5; begin 4: [4,8) scores 6,7; begin 6: [6,10) scores 8,9
        assertEquals(4, windows.size());
        assertArrayEquals(new int[] {1, 10, 11, 12}, windows.get(0).ids());
        assertEquals(1, windows.get(0).firstScored());
        assertArrayEquals(new int[] {11, 12, 13, 14}, windows.get(1).ids());
        assertEquals(2, windows.get(1).firstScored());
        assertArrayEquals(new int[] {13, 14, 15, 16}, windows.get(2).ids());
        assertEquals(2, windows.get(2).firstScored());
        assertArrayEquals(new int[] {15, 16, 17, 18}, windows.get(3).ids());
        assertEquals(2, windows.get(3).firstScored());
        assertEquals(9, PerplexityProtocol.predictedTokens(windows)); // every token but the BOS
    }

    @Test
    void slidingWindowEndsWithAShorterWindowAtTheCorpusEnd() {
        int[] corpus = {1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}; // 11 tokens
        List<PerplexityWindow> windows = PerplexityProtocol.sliding(4, 3).windows(corpus);

        // begin 0: [0,4) scores 1..3; begin 3: [3,7) scores 4..6; begin 6: [6,10) scores 7..9; begin 9: [9,11) scores 10
        assertEquals(4, windows.size());
        assertArrayEquals(new int[] {12, 13, 14, 15}, windows.get(1).ids());
        assertEquals(1, windows.get(1).firstScored());
        assertArrayEquals(new int[] {18, 19}, windows.get(3).ids());
        assertEquals(1, windows.get(3).firstScored());
        assertEquals(10, PerplexityProtocol.predictedTokens(windows));
    }

    @Test
    void uniformLogLikelihoodGivesPerplexityOfTheVocabularySize() {
        List<String> records = List.of("= Valkyria Chronicles =", "", "Senjo no Valkyria 3 is a tactical game.");
        int vocab = tokenizer.vocabSize();
        double tokenNll = Math.log(vocab);
        for (PerplexityProtocol protocol : List.of(PerplexityProtocol.nonOverlapping(8),
                PerplexityProtocol.sliding(8, 3))) {
            List<PerplexityWindow> windows = protocol.windows(records, tokenizer);
            PerplexityResult total = PerplexityResult.EMPTY;
            for (PerplexityWindow window : windows) { // one shard per window, summed as the executors' results
                double sum = 0;
                for (int p = window.firstScored(); p < window.ids().length; p++) {
                    sum += tokenNll;
                }
                total = total.plus(new PerplexityResult(sum, window.predictedTokens()));
            }
            assertEquals(PerplexityProtocol.predictedTokens(windows), total.count(), protocol.toString());
            assertEquals(vocab, total.perplexity(), 1e-12 * vocab, protocol.toString());
        }
    }

    @Test
    void resultsOfShardsAddUp() {
        PerplexityResult a = new PerplexityResult(3.0, 2);
        PerplexityResult b = new PerplexityResult(5.0, 6);
        PerplexityResult sum = a.plus(b);
        assertEquals(8.0, sum.sumNll());
        assertEquals(8, sum.count());
        assertEquals(Math.exp(1.0), sum.perplexity(), 1e-15);
        assertThrows(IllegalStateException.class, PerplexityResult.EMPTY::perplexity);
    }

    @Test
    void rejectsCorpusShorterThanOneWindowAndBadStrides() {
        IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class,
                () -> PerplexityProtocol.nonOverlapping(128).windows(List.of("short"), tokenizer));
        assertEquals("the corpus has 6 tokens, too few for one window of 128 tokens", tooShort.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PerplexityProtocol.sliding(8, 8));
        assertThrows(IllegalArgumentException.class, () -> PerplexityProtocol.sliding(8, 0));
        assertThrows(IllegalArgumentException.class, () -> PerplexityProtocol.nonOverlapping(1));
    }
}
