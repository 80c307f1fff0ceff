package dev.spruce.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;

/** Jackson's parse errors as one line: its own messages span lines and quote the source, which errors must not. */
public final class JsonErrors {
    private JsonErrors() {}

    /** E.g. {@code Unexpected end-of-input: expected close marker for Object at line 3, column 1}. */
    public static String oneLine(IOException e) {
        if (e instanceof JsonProcessingException j) {
            JsonLocation at = j.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            return flatten(j.getOriginalMessage()) + where;
        }
        return flatten(String.valueOf(e.getMessage()));
    }

    private static String flatten(String message) {
        return message.replaceAll("\\s*\\R\\s*", " ").trim();
    }
}
