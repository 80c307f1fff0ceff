package dev.spruce.data;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How an Alpaca record (instruction, optional input) becomes the prompt text that precedes its output in a
 * training sample: the reference Alpaca template ({@link AlpacaPrompter}, the default), Compresso's collaborative
 * template ({@link CollaborativePrompt#TRAINING_TEMPLATE}) or a user's template file.
 *
 * <p>A template is UTF-8 text used byte for byte, with four placeholders: {@value #INSTRUCTION} once, and
 * {@value #INPUT} once inside an {@value #IF_INPUT}...{@value #END_IF_INPUT} section. Sections (one or more, not
 * nested) are kept when the record has a non-empty input and left out otherwise, so one file covers both of
 * Alpaca's variants; the markers take no whitespace with them. Values are inserted once, never scanned again,
 * so an instruction that itself contains {@code {input}} stays as written.
 */
public final class PromptTemplate implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final String INSTRUCTION = "{instruction}";
    public static final String INPUT = "{input}";
    public static final String IF_INPUT = "{if-input}";
    public static final String END_IF_INPUT = "{end-if-input}";
    /** What a template must hold, as the errors say it. */
    static final String EXPECTED = INSTRUCTION + " once outside " + IF_INPUT + "..." + END_IF_INPUT
            + " sections, and " + INPUT + " once inside one";
    /** Anything that looks like a placeholder: a typo such as {instructions} is an error, not literal text. */
    static final Pattern PLACEHOLDER = Pattern.compile("\\{[a-z][a-z_-]*\\}");

    /** The reference template, rendered by {@link AlpacaPrompter} itself so its bytes stay exactly as before. */
    public static final PromptTemplate ALPACA = new PromptTemplate("alpaca", null);

    private enum Kind { TEXT, INSTRUCTION, INPUT }

    /** One piece of a parsed template; {@code conditional} pieces appear only when the record has an input. */
    private record Part(Kind kind, String text, boolean conditional) implements Serializable {}

    private final String name;
    private final Part[] parts;

    private PromptTemplate(String name, Part[] parts) {
        this.name = name;
        this.parts = parts;
    }

    /** The collaborative (Compresso) training template shipped with spruce. */
    public static PromptTemplate collaborative() {
        return parse(CollaborativePrompt.COLLABORATIVE,
                CollaborativePrompt.builtIn(CollaborativePrompt.TRAINING_TEMPLATE), CollaborativePrompt.resourcePath(
                        CollaborativePrompt.TRAINING_TEMPLATE));
    }

    /**
     * The template a setting names: {@code alpaca}, {@code collaborative}, or the Hadoop path of a template file.
     * {@code setting} (e.g. {@code spruce.recover.data.template}) is named in the errors.
     */
    public static PromptTemplate forChoice(String choice, String setting) {
        String c = choice == null ? "" : choice.trim();
        if (c.isEmpty()) {
            throw new IllegalArgumentException(setting + " is empty; expected alpaca, collaborative or the path of a "
                    + "template file with " + EXPECTED);
        }
        return switch (c.toLowerCase(Locale.ROOT)) {
            case "alpaca" -> ALPACA;
            case CollaborativePrompt.COLLABORATIVE -> collaborative();
            default -> parse(c, CollaborativePrompt.readFile(c, setting), c);
        };
    }

    /**
     * Parses template text; {@code where} (a file or resource) is named in every error. Each error says what a
     * template must hold.
     */
    public static PromptTemplate parse(String name, String text, String where) {
        List<Part> parts = new ArrayList<>();
        int instructions = 0;
        int inputs = 0;
        int sections = 0;
        boolean inSection = false;
        Matcher m = PLACEHOLDER.matcher(text);
        int at = 0;
        while (m.find()) {
            if (m.start() > at) {
                parts.add(new Part(Kind.TEXT, text.substring(at, m.start()), inSection));
            }
            at = m.end();
            switch (m.group()) {
                case INSTRUCTION -> {
                    if (inSection) {
                        throw invalid(where, INSTRUCTION + " is inside the " + IF_INPUT + " section, so records "
                                + "without an input would lose their instruction");
                    }
                    instructions++;
                    parts.add(new Part(Kind.INSTRUCTION, null, false));
                }
                case INPUT -> {
                    if (!inSection) {
                        throw invalid(where, INPUT + " is outside an " + IF_INPUT + "..." + END_IF_INPUT + " section");
                    }
                    inputs++;
                    parts.add(new Part(Kind.INPUT, null, true));
                }
                case IF_INPUT -> {
                    if (inSection) {
                        throw invalid(where, IF_INPUT + " opens a section inside another one");
                    }
                    inSection = true;
                    sections++;
                }
                case END_IF_INPUT -> {
                    if (!inSection) {
                        throw invalid(where, END_IF_INPUT + " closes no " + IF_INPUT + " section");
                    }
                    inSection = false;
                }
                default -> throw invalid(where, "unknown placeholder " + m.group() + " at character " + m.start());
            }
        }
        if (at < text.length()) {
            parts.add(new Part(Kind.TEXT, text.substring(at), inSection));
        }
        if (inSection) {
            throw invalid(where, IF_INPUT + " has no " + END_IF_INPUT);
        }
        if (instructions != 1 || inputs != 1) {
            throw invalid(where, "it has " + instructions + " " + INSTRUCTION + " and " + inputs + " " + INPUT
                    + " (in " + sections + " " + IF_INPUT + " sections)");
        }
        return new PromptTemplate(name, parts.toArray(Part[]::new));
    }

    private static IllegalArgumentException invalid(String where, String problem) {
        return new IllegalArgumentException("prompt template " + where + ": " + problem + "; expected " + EXPECTED);
    }

    /** {@code alpaca}, {@code collaborative} or the file it was read from: for logs and run.json. */
    public String name() {
        return name;
    }

    /** The prompt for an instruction and an optional input (null or empty means none). */
    public String prompt(String instruction, String input) {
        if (parts == null) {
            return AlpacaPrompter.prompt(instruction, input);
        }
        boolean hasInput = input != null && !input.isEmpty();
        StringBuilder out = new StringBuilder();
        for (Part p : parts) {
            if (p.conditional() && !hasInput) {
                continue;
            }
            out.append(switch (p.kind()) {
                case TEXT -> p.text();
                case INSTRUCTION -> instruction;
                case INPUT -> input;
            });
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return name;
    }
}
