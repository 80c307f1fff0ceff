package dev.spruce.eval.tasks;

/**
 * The few Python {@code str} methods the harness prompts use, with Python's semantics where Java's differ:
 * Python's {@code strip()} also removes no-break spaces and U+0085, and {@code capitalize()} title-cases the
 * first character with the full Unicode mappings (ß to Ss, the ligature ﬁ to Fi) and lower-cases the rest.
 */
public final class PythonStrings {
    /**
     * The code points whose full title-case mapping (Unicode SpecialCasing) is longer than one character, each
     * with the characters it maps to, as {@code CODE:MAPPED+MAPPED}. Java's {@link Character#toTitleCase(int)}
     * knows only the one-character mappings; for every other code point the two agree.
     */
    private static final String MULTI_CHARACTER_TITLE_CASE = "00DF:0053+0073 0149:02BC+004E 01F0:004A+030C "
            + "0390:0399+0308+0301 03B0:03A5+0308+0301 0587:0535+0582 1E96:0048+0331 1E97:0054+0308 1E98:0057+030A "
            + "1E99:0059+030A 1E9A:0041+02BE 1F50:03A5+0313 1F52:03A5+0313+0300 1F54:03A5+0313+0301 "
            + "1F56:03A5+0313+0342 1FB2:1FBA+0345 1FB4:0386+0345 1FB6:0391+0342 1FB7:0391+0342+0345 1FC2:1FCA+0345 "
            + "1FC4:0389+0345 1FC6:0397+0342 1FC7:0397+0342+0345 1FD2:0399+0308+0300 1FD3:0399+0308+0301 "
            + "1FD6:0399+0342 1FD7:0399+0308+0342 1FE2:03A5+0308+0300 1FE3:03A5+0308+0301 1FE4:03A1+0313 "
            + "1FE6:03A5+0342 1FE7:03A5+0308+0342 1FF2:1FFA+0345 1FF4:038F+0345 1FF6:03A9+0342 1FF7:03A9+0342+0345 "
            + "FB00:0046+0066 FB01:0046+0069 FB02:0046+006C FB03:0046+0066+0069 FB04:0046+0066+006C FB05:0053+0074 "
            + "FB06:0053+0074 FB13:0544+0576 FB14:0544+0565 FB15:0544+056B FB16:054E+0576 FB17:0544+056D";
    private static final java.util.Map<Integer, String> TITLE_CASE_FULL = parseTitleCases();

    private PythonStrings() {}

    private static java.util.Map<Integer, String> parseTitleCases() {
        java.util.Map<Integer, String> map = new java.util.HashMap<>();
        for (String entry : MULTI_CHARACTER_TITLE_CASE.split(" ")) {
            String[] parts = entry.split(":");
            StringBuilder mapped = new StringBuilder();
            for (String hex : parts[1].split("\\+")) {
                mapped.appendCodePoint(Integer.parseInt(hex, 16));
            }
            map.put(Integer.parseInt(parts[0], 16), mapped.toString());
        }
        return java.util.Map.copyOf(map);
    }

    /** Python's {@code str.isspace()} for one code point. */
    public static boolean isSpace(int codePoint) {
        return Character.isWhitespace(codePoint) || codePoint == 0x85
                || Character.getType(codePoint) == Character.SPACE_SEPARATOR;
    }

    /** Python's {@code str.strip()} without arguments. */
    public static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isSpace(s.codePointAt(start))) {
            start += Character.charCount(s.codePointAt(start));
        }
        while (end > start && isSpace(s.codePointBefore(end))) {
            end -= Character.charCount(s.codePointBefore(end));
        }
        return s.substring(start, end);
    }

    /** Python's {@code str.capitalize()}: the first character title-cased (full mapping), the rest lower-cased. */
    public static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.codePointAt(0);
        int rest = Character.charCount(first);
        StringBuilder out = new StringBuilder(s.length() + 2);
        String full = TITLE_CASE_FULL.get(first);
        if (full != null) {
            out.append(full);
        } else {
            out.appendCodePoint(Character.toTitleCase(first));
        }
        // Lower-case the whole string so that a final sigma sees the first character as context, as Python's does.
        String lowerFirst = s.substring(0, rest).toLowerCase(java.util.Locale.ROOT);
        return out.append(s.toLowerCase(java.util.Locale.ROOT).substring(lowerFirst.length())).toString();
    }

    /** Python's {@code len(s)}: the number of code points. */
    public static int length(String s) {
        return s.codePointCount(0, s.length());
    }
}
