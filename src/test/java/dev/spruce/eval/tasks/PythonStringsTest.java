package dev.spruce.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PythonStringsTest {
    @Test
    void stripRemovesWhatPythonCallsWhitespace() {
        // Java's String.strip() keeps U+00A0, U+2007, U+202F and U+0085; Python's str.strip() removes them.
        assertEquals("a b", PythonStrings.strip("\u00a0\u2007 \t\na b\u202f\u0085\r"));
        assertEquals("", PythonStrings.strip(" \u3000 "));
    }

    @Test
    void capitalizeLowersTheRest() {
        assertEquals("Make sure", PythonStrings.capitalize("MAKE sure"));
        assertEquals("", PythonStrings.capitalize(""));
        assertEquals("Éclair", PythonStrings.capitalize("éCLAIR"));
    }

    @Test
    void capitalizeUsesTheFullTitleCaseMappings() {
        // Expected values printed by CPython 3.11's str.capitalize().
        assertEquals("Sstraße", PythonStrings.capitalize("ßtraße"));
        assertEquals("Fish and chips", PythonStrings.capitalize("\ufb01sh AND CHIPS"));
        assertEquals("Ffluffy", PythonStrings.capitalize("\ufb04uffy"));
        assertEquals("J\u030cohn", PythonStrings.capitalize("\u01f0OHN"));
        assertEquals("\u0399\u0308\u0301\u03c3\u03b1 \u03bf\u03b4\u03bf\u03c2",
                PythonStrings.capitalize("\u0390\u03a3\u0391 \u039f\u0394\u039f\u03a3"));
        assertEquals("\u0130stanbul", PythonStrings.capitalize("\u0130STANBUL"));
        assertEquals("A\u03c2", PythonStrings.capitalize("A\u03a3")); // final sigma, with the first letter as context
    }

    @Test
    void lengthCountsCodePoints() {
        assertEquals(2, PythonStrings.length("\uD83D\uDE00a")); // an emoji (two UTF-16 units) and "a"
    }
}
