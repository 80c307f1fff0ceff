package dev.spruce.eval.tasks;

import java.util.Locale;

/**
 * The record layouts the multiple-choice loader understands (the Hugging Face datasets exported as JSON Lines),
 * each with the prompt of lm-evaluation-harness v0.3 and the metric LLM-Pruner reports for it.
 */
public enum McFormat {
    /** {@code super_glue/boolq}: passage, question, label (1 = yes). */
    BOOLQ("boolq", McMetric.ACC, false),
    /** {@code piqa}: goal, sol1, sol2, label. */
    PIQA("piqa", McMetric.ACC, true),
    /** {@code hellaswag}: activity_label, ctx_a, ctx_b, endings, label (a string). */
    HELLASWAG("hellaswag", McMetric.ACC_NORM, true),
    /** {@code winogrande/winogrande_xl}: sentence with one "_", option1, option2, answer ("1" or "2"). */
    WINOGRANDE("winogrande", McMetric.ACC, false),
    /** {@code ai2_arc/ARC-Easy}: question, choices {text, label}, answerKey (A-E or 1-5). */
    ARC_EASY("arc_easy", McMetric.ACC, true),
    /** {@code ai2_arc/ARC-Challenge}: as ARC-Easy. */
    ARC_CHALLENGE("arc_challenge", McMetric.ACC_NORM, true),
    /** {@code openbookqa/main}: question_stem, choices {text, label}, answerKey (A-D). */
    OPENBOOKQA("openbookqa", McMetric.ACC_NORM, true),
    /** spruce's own layout: {"context": str, "choices": [str], "label": int}; each choice is scored as " " + choice. */
    GENERIC("generic", McMetric.ACC, true);

    private final String defaultTaskName;
    private final McMetric reportedMetric;
    private final boolean definesAccNorm;

    McFormat(String defaultTaskName, McMetric reportedMetric, boolean definesAccNorm) {
        this.defaultTaskName = defaultTaskName;
        this.reportedMetric = reportedMetric;
        this.definesAccNorm = definesAccNorm;
    }

    /** The harness task name, used as the task's name unless the caller picks another one. */
    public String defaultTaskName() {
        return defaultTaskName;
    }

    /** The metric LLM-Pruner's tables report for this task (acc or acc_norm, see llm-pruner.md §5.2). */
    public McMetric reportedMetric() {
        return reportedMetric;
    }

    /**
     * Whether the harness computes acc_norm for the task. BoolQ and WinoGrande are plain tasks there, not
     * {@code MultipleChoiceTask}s, and report acc only.
     */
    public boolean definesAccNorm() {
        return definesAccNorm;
    }

    /** The format of a harness task name ({@code arc_easy}) or enum name ({@code ARC_EASY}). */
    public static McFormat forName(String name) {
        String key = name.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        for (McFormat format : values()) {
            if (format.defaultTaskName.equals(key) || format.name().toLowerCase(Locale.ROOT).equals(key)) {
                return format;
            }
        }
        throw new IllegalArgumentException("unknown multiple-choice format '" + name + "', expected one of "
                + java.util.Arrays.stream(values()).map(McFormat::defaultTaskName).toList());
    }
}
