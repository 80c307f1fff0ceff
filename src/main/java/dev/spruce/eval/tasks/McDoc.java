package dev.spruce.eval.tasks;

import java.io.Serializable;
import java.util.List;

/** One multiple-choice question of a task, from line {@code lineNumber} of its file; {@code gold} indexes choices. */
public record McDoc(String task, long lineNumber, List<McChoice> choices, int gold) implements Serializable {
    public McDoc {
        choices = List.copyOf(choices);
        if (choices.isEmpty()) {
            throw new IllegalArgumentException(task + " line " + lineNumber + ": a document needs at least one choice");
        }
        if (gold < 0 || gold >= choices.size()) {
            throw new IllegalArgumentException(task + " line " + lineNumber + ": gold index " + gold
                    + " is out of range for " + choices.size() + " choices");
        }
    }

    /** The key that ties requests and their scores back to this document: {@code task#line}. */
    public String docKey() {
        return task + "#" + lineNumber;
    }
}
