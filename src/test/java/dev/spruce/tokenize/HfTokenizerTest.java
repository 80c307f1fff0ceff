package dev.spruce.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.io.InvalidModelException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int TH = 256;
    private static final int SPACE_TH = 257;
    private static final int ER = 258;
    private static final int BOS = 259;
    private static final int EOS = 260;
    private static final int PAD = 261;

    @TempDir
    java.nio.file.Path tmp;

    /** GPT-2's bytes_to_unicode, written out here independently of the production class. */
    private static char[] gpt2ByteChars() {
        List<Integer> printable = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            printable.add(b);
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable.add(b);
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable.add(b);
        }
        char[] chars = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            chars[b] = printable.contains(b) ? (char) b : (char) (256 + n++);
        }
        return chars;
    }

    /**
     * A byte-level BPE tokenizer.json: byte b has id b, merges "t h" (256), "Ġ th" (257), "e r" (258), and
     * special tokens 259..261.
     */
    private java.nio.file.Path writeTokenizerJson(java.nio.file.Path dir) throws IOException {
        char[] byteChars = gpt2ByteChars();
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<|bos|>", "<|eos|>", "<|pad|>"};
        for (int i = 0; i < specials.length; i++) {
            added.addObject().put("id", BOS + i).put("content", specials[i]).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", true).put("use_regex", true);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true)
                .put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("unk_token");
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(byteChars[b]), b);
        }
        vocab.put("th", TH);
        vocab.put("Ġth", SPACE_TH);
        vocab.put("er", ER);
        for (int i = 0; i < specials.length; i++) {
            vocab.put(specials[i], BOS + i);
        }
        model.putArray("merges").add("t h").add("Ġ th").add("e r");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(root), StandardCharsets.UTF_8);
        return dir;
    }

    private static Path hadoop(java.nio.file.Path p) {
        return new Path(p.toUri());
    }

    private HfTokenizer loadWithConfigs() throws IOException {
        java.nio.file.Path dir = writeTokenizerJson(tmp.resolve("model"));
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": \"<|bos|>\", \"eos_token\": {\"content\": \"<|eos|>\", \"special\": true}}");
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": 2, \"pad_token_id\": 261}");
        return HfTokenizer.load(hadoop(dir));
    }

    @Test
    void encodesWithTheMergesInRankOrder() throws IOException {
        try (HfTokenizer t = loadWithConfigs()) {
            assertArrayEquals(new int[] {TH, 'e'}, t.encode("the", false));
            assertArrayEquals(new int[] {SPACE_TH, 'e'}, t.encode(" the", false));
            assertArrayEquals(new int[] {'o', TH, ER}, t.encode("other", false));
            // Bytes outside printable ASCII: 'é' is C3 A9, both printable Latin-1, so ids 0xC3 and 0xA9.
            assertArrayEquals(new int[] {0xC3, 0xA9}, t.encode("é", false));
            assertEquals(262, t.vocabSize());
        }
    }

    @Test
    void roundTripsText() throws IOException {
        String[] texts = {"", "the other thing", "Crème brûlée, naïve façade", "  two  spaces\tand\ttabs\n\nnewlines \n",
            "東京は日本の首都です。", "emoji 👍🏽🎉 and e\u0301 combining", "!!!???...,,,;;", "<|eos|> literal special"};
        try (HfTokenizer t = loadWithConfigs()) {
            for (String text : texts) {
                assertEquals(text, t.decode(t.encode(text, false)), "round trip of '" + text + "'");
            }
        }
    }

    @Test
    void longTextIsNotTruncated() throws IOException {
        StringBuilder text = new StringBuilder("ab");
        List<Integer> expected = new ArrayList<>(List.of((int) 'a', (int) 'b'));
        for (int i = 0; i < 999; i++) {
            text.append(" ab");
            expected.addAll(List.of((int) ' ', (int) 'a', (int) 'b'));
        }
        try (HfTokenizer t = loadWithConfigs()) {
            int[] ids = t.encode(text.toString(), false);
            assertEquals(2999, ids.length);
            assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), ids);
            assertEquals(text.toString(), t.decode(ids));
        }
    }

    @Test
    void addsBosOnlyWhenAsked() throws IOException {
        try (HfTokenizer t = loadWithConfigs()) {
            assertArrayEquals(new int[] {SPACE_TH, 'e'}, t.encode(" the", false));
            assertArrayEquals(new int[] {BOS, SPACE_TH, 'e'}, t.encode(" the", true));
            assertArrayEquals(new int[] {BOS}, t.encode("", true));
            assertArrayEquals(new int[0], t.encode("", false));
        }
    }

    @Test
    void specialIdsComeFromTokenizerConfigThenConfigJson() throws IOException {
        try (HfTokenizer t = loadWithConfigs()) {
            assertEquals(BOS, t.bosId());
            assertEquals(EOS, t.eosId());
            assertEquals(PAD, t.padId());
        }
    }

    @Test
    void specialIdsFallBackToConfigJson() throws IOException {
        java.nio.file.Path dir = writeTokenizerJson(tmp.resolve("model"));
        Files.writeString(dir.resolve("config.json"), "{\"bos_token_id\": 259, \"eos_token_id\": [260, 259]}");
        try (HfTokenizer t = HfTokenizer.load(hadoop(dir))) {
            assertEquals(BOS, t.bosId());
            assertEquals(EOS, t.eosId());
            assertEquals(EOS, t.padId(), "no pad token: the EOS id pads");
        }
    }

    @Test
    void withoutAnySpecialTokensBosCannotBeAdded() throws IOException {
        java.nio.file.Path dir = writeTokenizerJson(tmp.resolve("model"));
        try (HfTokenizer t = HfTokenizer.load(hadoop(dir))) {
            assertEquals(-1, t.bosId());
            assertEquals(-1, t.eosId());
            assertEquals(0, t.padId());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.encode("x", true));
            assertTrue(e.getMessage().contains("no BOS token"), e.getMessage());
        }
    }

    @Test
    void unknownSpecialTokenNamesTheConfigFile() throws IOException {
        java.nio.file.Path dir = writeTokenizerJson(tmp.resolve("model"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> HfTokenizer.load(hadoop(dir)));
        assertTrue(e.getMessage().contains(dir.resolve("tokenizer_config.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("bos_token is '<s>'"), e.getMessage());
    }

    @Test
    void missingTokenizerJsonIsNamed() {
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> HfTokenizer.load(hadoop(tmp)));
        assertTrue(e.getMessage().contains(tmp.resolve("tokenizer.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void malformedTokenizerJsonIsNamed() throws IOException {
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"vocab\": ");
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> HfTokenizer.load(hadoop(tmp)));
        assertTrue(e.getMessage().contains(tmp.resolve("tokenizer.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void tokenizerJsonTheLibraryRejectsIsNamed() throws IOException {
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        InvalidModelException e = assertThrows(InvalidModelException.class, () -> HfTokenizer.load(hadoop(tmp)));
        assertTrue(e.getMessage().contains(tmp.resolve("tokenizer.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("cannot load"), e.getMessage());
    }
}
