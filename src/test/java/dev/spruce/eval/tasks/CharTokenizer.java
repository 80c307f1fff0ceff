package dev.spruce.eval.tasks;

import dev.spruce.tokenize.Tokenizer;

/**
 * A deterministic character-level tokenizer for tests: id 0 is padding, 1 BOS, 2 EOS, 3 the newline, and
 * 4..98 the printable ASCII characters from space to '~'. Any other character is rejected.
 */
public final class CharTokenizer implements Tokenizer {
    public static final int PAD = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    public static final int NEWLINE = 3;
    private static final int FIRST_PRINTABLE = 4;

    @Override
    public int[] encode(String text, boolean addBos) {
        int offset = addBos ? 1 : 0;
        int[] ids = new int[text.length() + offset];
        if (addBos) {
            ids[0] = BOS;
        }
        for (int i = 0; i < text.length(); i++) {
            ids[i + offset] = id(text.charAt(i));
        }
        return ids;
    }

    public static int id(char c) {
        if (c == '\n') {
            return NEWLINE;
        }
        if (c < ' ' || c > '~') {
            throw new IllegalArgumentException("character U+" + Integer.toHexString(c) + " is not in the vocabulary");
        }
        return FIRST_PRINTABLE + (c - ' ');
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder text = new StringBuilder();
        for (int id : ids) {
            if (id == NEWLINE) {
                text.append('\n');
            } else if (id >= FIRST_PRINTABLE) {
                text.append((char) (' ' + id - FIRST_PRINTABLE));
            }
        }
        return text.toString();
    }

    @Override
    public int bosId() {
        return BOS;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    @Override
    public int padId() {
        return PAD;
    }

    @Override
    public int vocabSize() {
        return FIRST_PRINTABLE + ('~' - ' ' + 1);
    }
}
