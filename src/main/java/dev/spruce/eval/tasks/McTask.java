package dev.spruce.eval.tasks;

import java.io.Serializable;

/** A multiple-choice task: its name in reports and document keys, and the layout of its records. */
public record McTask(String name, McFormat format) implements Serializable {
    public McTask {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a task needs a name");
        }
        if (format == null) {
            throw new IllegalArgumentException("task " + name + " needs a record format");
        }
    }

    /** The task under the harness's name for the format. */
    public static McTask of(McFormat format) {
        return new McTask(format.defaultTaskName(), format);
    }
}
