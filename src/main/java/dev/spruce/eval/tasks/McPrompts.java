package dev.spruce.eval.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The zero-shot prompts of lm-evaluation-harness v0.3 (the copy LLM-Pruner vendors at 4d21ab6b), one method per
 * task, turning a Hugging Face record into choices. Strings and preprocessing follow the harness' task files
 * character for character; where the harness compares rather than takes an argmax, the choice order is chosen so
 * that a lowest-index argmax gives the same answer on ties.
 */
final class McPrompts {
    private static final Pattern HELLASWAG_BRACKETS = Pattern.compile("\\[.*?\\]", Pattern.UNIX_LINES);
    private static final String LETTERS = "ABCDE";

    private McPrompts() {}

    static McDoc parse(McTask task, long lineNumber, JsonNode record) {
        if (record == null || !record.isObject()) {
            throw new MalformedRecordException("expected a JSON object");
        }
        ChoicesAndGold parsed = switch (task.format()) {
            case BOOLQ -> boolq(record);
            case PIQA -> piqa(record);
            case HELLASWAG -> hellaswag(record);
            case WINOGRANDE -> winogrande(record);
            case ARC_EASY, ARC_CHALLENGE -> arc(record);
            case OPENBOOKQA -> openbookqa(record);
            case GENERIC -> generic(record);
        };
        return new McDoc(task.name(), lineNumber, parsed.choices, parsed.gold);
    }

    private record ChoicesAndGold(List<McChoice> choices, int gold) {}

    /**
     * superglue.py BoolQ: the harness scores " yes" and " no" and counts a hit when
     * {@code (ll_yes > ll_no) == label}. Ordering the choices [no, yes] makes gold = label and sends ties to "no",
     * as the strict comparison does.
     */
    private static ChoicesAndGold boolq(JsonNode r) {
        String context = text(r, "passage") + "\nQuestion: " + text(r, "question") + "?\nAnswer:";
        List<McChoice> choices = List.of(
                new McChoice(context, " no", "no"),
                new McChoice(context, " yes", "yes"));
        int label = integer(r, "label");
        return new ChoicesAndGold(choices, gold(label, choices.size(), "label", Integer.toString(label)));
    }

    /** piqa.py: "Question: {goal}\nAnswer:" and the two solutions. */
    private static ChoicesAndGold piqa(JsonNode r) {
        String context = "Question: " + text(r, "goal") + "\nAnswer:";
        List<String> solutions = List.of(text(r, "sol1"), text(r, "sol2"));
        return multipleChoice(context, solutions, integer(r, "label"), "label");
    }

    /** hellaswag.py: the query and endings cleaned of WikiHow bracket artifacts. */
    private static ChoicesAndGold hellaswag(JsonNode r) {
        String ctx = text(r, "ctx_a") + " " + PythonStrings.capitalize(text(r, "ctx_b"));
        String context = hellaswagPreprocess(text(r, "activity_label") + ": " + ctx);
        List<String> endings = new ArrayList<>();
        for (String ending : textArray(r, "endings")) {
            endings.add(hellaswagPreprocess(ending));
        }
        return multipleChoice(context, endings, integer(r, "label"), "label");
    }

    static String hellaswagPreprocess(String text) {
        String cleaned = PythonStrings.strip(text).replace(" [title]", ". ");
        cleaned = HELLASWAG_BRACKETS.matcher(cleaned).replaceAll("");
        return cleaned.replace("  ", " ");
    }

    /**
     * winogrande.py partial evaluation: each option substituted for "_" with everything after it dropped is the
     * context; the shared continuation is " " + the stripped text after "_". The zero-shot context goes through
     * the harness' {@code append_context}, which drops the gold context's last "\n\n"-separated part and appends
     * the option's context.
     */
    private static ChoicesAndGold winogrande(JsonNode r) {
        String sentence = text(r, "sentence");
        int blank = sentence.indexOf('_');
        if (blank < 0) {
            throw new MalformedRecordException("field 'sentence' has no '_' blank");
        }
        List<String> options = List.of(text(r, "option1"), text(r, "option2"));
        int gold = integer(r, "answer") - 1;
        if (gold < 0 || gold >= options.size()) {
            throw new MalformedRecordException("field 'answer' is " + (gold + 1) + ", expected \"1\" or \"2\"");
        }
        String goldContext = sentence.substring(0, blank) + options.get(gold);
        String continuation = " " + PythonStrings.strip(sentence.substring(blank + 1));
        List<McChoice> choices = new ArrayList<>();
        for (String option : options) {
            String context = appendContext(goldContext, sentence.substring(0, blank) + option);
            choices.add(new McChoice(context, continuation, option));
        }
        return new ChoicesAndGold(choices, gold);
    }

    /** The harness' {@code Winogrande.append_context(ctx, partial_ctx)} with Python's {@code str.split}. */
    private static String appendContext(String ctx, String partialContext) {
        String[] parts = ctx.split(Pattern.quote("\n\n"), -1);
        if (parts.length == 1) {
            return partialContext;
        }
        List<String> kept = new ArrayList<>(List.of(parts).subList(0, parts.length - 1));
        kept.add(partialContext);
        return String.join("\n\n", kept);
    }

    /**
     * arc.py: numeric answer keys map to letters, and gold is the letter's position in A-E (the choice labels
     * themselves are not consulted, as in the harness).
     */
    private static ChoicesAndGold arc(JsonNode r) {
        String context = "Question: " + text(r, "question") + "\nAnswer:";
        List<String> texts = textArray(object(r, "choices"), "text");
        String answerKey = text(r, "answerKey");
        String letter = answerKey;
        if (answerKey.length() == 1 && answerKey.charAt(0) >= '1' && answerKey.charAt(0) <= '5') {
            letter = String.valueOf(LETTERS.charAt(answerKey.charAt(0) - '1'));
        }
        return multipleChoice(context, texts, letterIndex(letter, LETTERS, "answerKey"), "answerKey",
                "'" + answerKey + "'");
    }

    /** openbookqa.py: the bare question stem; gold is the stripped answer key's position in A-D. */
    private static ChoicesAndGold openbookqa(JsonNode r) {
        String context = text(r, "question_stem");
        List<String> texts = textArray(object(r, "choices"), "text");
        String key = PythonStrings.strip(text(r, "answerKey"));
        return multipleChoice(context, texts, letterIndex(key, "ABCD", "answerKey"), "answerKey", "'" + key + "'");
    }

    private static ChoicesAndGold generic(JsonNode r) {
        return multipleChoice(text(r, "context"), textArray(r, "choices"), integer(r, "label"), "label");
    }

    /** The harness' {@code MultipleChoiceTask}: each choice is requested as " " + choice after the query. */
    private static ChoicesAndGold multipleChoice(String context, List<String> texts, int label, String labelField) {
        return multipleChoice(context, texts, label, labelField, Integer.toString(label));
    }

    private static ChoicesAndGold multipleChoice(String context, List<String> texts, int gold, String goldField,
                                                 String goldValue) {
        if (texts.isEmpty()) {
            throw new MalformedRecordException("no choices");
        }
        List<McChoice> choices = new ArrayList<>(texts.size());
        for (String choice : texts) {
            choices.add(new McChoice(context, " " + choice, choice));
        }
        return new ChoicesAndGold(choices, gold(gold, choices.size(), goldField, goldValue));
    }

    /** {@code index} checked against the choices; {@code value} is the field's value as the record wrote it. */
    private static int gold(int index, int choiceCount, String field, String value) {
        if (index < 0 || index >= choiceCount) {
            throw new MalformedRecordException("field '" + field + "' is " + value + ", out of range for "
                    + choiceCount + " choices");
        }
        return index;
    }

    private static int letterIndex(String key, String letters, String field) {
        int index = key.length() == 1 ? letters.indexOf(key.charAt(0)) : -1;
        if (index < 0) {
            throw new MalformedRecordException("field '" + field + "' is '" + key + "', expected one of "
                    + String.join(", ", letters.split("")));
        }
        return index;
    }

    private static JsonNode field(JsonNode r, String field) {
        JsonNode value = r.get(field);
        if (value == null || value.isNull()) {
            throw new MalformedRecordException("missing field '" + field + "'");
        }
        return value;
    }

    private static String text(JsonNode r, String field) {
        JsonNode value = field(r, field);
        if (!value.isTextual()) {
            throw new MalformedRecordException("field '" + field + "' is " + typeOf(value) + ", expected a string");
        }
        return value.textValue();
    }

    private static JsonNode object(JsonNode r, String field) {
        JsonNode value = field(r, field);
        if (!value.isObject()) {
            throw new MalformedRecordException("field '" + field + "' is " + typeOf(value) + ", expected an object");
        }
        return value;
    }

    private static List<String> textArray(JsonNode r, String field) {
        JsonNode value = field(r, field);
        if (!value.isArray()) {
            throw new MalformedRecordException("field '" + field + "' is " + typeOf(value) + ", expected an array");
        }
        List<String> texts = new ArrayList<>(value.size());
        for (JsonNode element : value) {
            if (!element.isTextual()) {
                throw new MalformedRecordException("field '" + field + "' holds " + typeOf(element)
                        + ", expected strings");
            }
            texts.add(element.textValue());
        }
        return texts;
    }

    /** An integer label as Python's {@code int(x)} reads it: a JSON integer, a boolean, or a numeric string. */
    private static int integer(JsonNode r, String field) {
        JsonNode value = field(r, field);
        if (value.isIntegralNumber() && value.canConvertToInt()) {
            return value.intValue();
        }
        if (value.isBoolean()) {
            return value.booleanValue() ? 1 : 0;
        }
        if (value.isTextual()) {
            String digits = PythonStrings.strip(value.textValue());
            if (digits.isEmpty()) {
                throw new MalformedRecordException("field '" + field + "' is empty");
            }
            try {
                return Integer.parseInt(digits);
            } catch (NumberFormatException e) {
                throw new MalformedRecordException("field '" + field + "' is '" + value.textValue()
                        + "', expected an integer");
            }
        }
        throw new MalformedRecordException("field '" + field + "' is " + typeOf(value) + ", expected an integer");
    }

    private static String typeOf(JsonNode value) {
        return value.getNodeType().toString().toLowerCase(Locale.ROOT);
    }
}
