package dev.spruce.data;

import dev.spruce.io.Fs;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.apache.hadoop.fs.Path;

/**
 * Compresso's "collaborative prompt": a system instruction telling the model that it is being pruned, shipped as
 * resource files under {@value #RESOURCES}. Training wraps every instruction record in it
 * ({@link PromptTemplate#collaborative()}); evaluation may put a prefix before every scored request
 * ({@link #evaluationPrefix}): {@code none}, {@code training} (the same instruction, ending in a generic input
 * header), {@code past} (the same six themes told in the past tense, for a model whose pruning is over) or a
 * user's file.
 */
public final class CollaborativePrompt {
    /** The choice of {@code spruce.recover.data.template} that selects the built-in training template. */
    public static final String COLLABORATIVE = "collaborative";
    public static final String NONE = "none";
    public static final String TRAINING = "training";
    public static final String PAST = "past";

    static final String RESOURCES = "/dev/spruce/prompts/";
    static final String TRAINING_TEMPLATE = "compresso-train.txt";
    static final String EVAL_TRAINING = "compresso-eval-training.txt";
    static final String EVAL_PAST = "compresso-eval-past.txt";
    /** Prompt files are a few hundred words; anything this large is the wrong file. */
    static final int MAX_BYTES = 1 << 20;

    private CollaborativePrompt() {}

    /**
     * The text to put before every evaluation request: empty for {@code none}, a built-in prefix for
     * {@code training} or {@code past}, otherwise the content of the file at that Hadoop path, byte for byte.
     * A prefix is plain text: a file holding a training placeholder ({@code {instruction}} and the like) is
     * refused, since nothing would fill it, as is an empty one. {@code setting} is named in the errors.
     */
    public static String evaluationPrefix(String choice, String setting) {
        String c = choice == null ? "" : choice.trim();
        if (c.isEmpty()) {
            throw new IllegalArgumentException(setting + " is empty; expected none, training, past or the path of a "
                    + "text file");
        }
        return switch (c.toLowerCase(Locale.ROOT)) {
            case NONE -> "";
            case TRAINING -> builtIn(EVAL_TRAINING);
            case PAST -> builtIn(EVAL_PAST);
            default -> requirePlainPrefix(c, readFile(c, setting));
        };
    }

    static String requirePlainPrefix(String where, String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("evaluation prompt prefix " + where + " is empty; expected the text to "
                    + "put before every request (or none)");
        }
        for (String placeholder : new String[] {PromptTemplate.INSTRUCTION, PromptTemplate.INPUT,
                PromptTemplate.IF_INPUT, PromptTemplate.END_IF_INPUT}) {
            if (text.contains(placeholder)) {
                throw new IllegalArgumentException("evaluation prompt prefix " + where + " contains " + placeholder
                        + "; expected plain text without placeholders (the request's own text follows the prefix; "
                        + "a training template belongs in spruce.recover.data.template)");
            }
        }
        return text;
    }

    static String resourcePath(String name) {
        return RESOURCES + name;
    }

    /** A prompt shipped in the jar. */
    static String builtIn(String name) {
        String path = resourcePath(name);
        try (InputStream in = CollaborativePrompt.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("the built-in prompt " + path + " is missing from the class path");
            }
            return utf8(in.readAllBytes(), path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the built-in prompt " + path, e);
        }
    }

    /** A user's prompt file on any Hadoop file system, whole, as UTF-8. */
    static String readFile(String location, String setting) {
        Path p = Fs.path(location);
        if (!Fs.exists(p) || Fs.isDirectory(p)) {
            throw new IllegalArgumentException(setting + " = " + location + ": no such file; expected "
                    + (setting.endsWith("template") ? "alpaca, collaborative" : "none, training, past")
                    + " or the path of a prompt file");
        }
        long length = Fs.length(p);
        if (length > MAX_BYTES) {
            throw new IllegalArgumentException(setting + " = " + location + ": " + length + " bytes; expected a prompt "
                    + "file of at most " + MAX_BYTES + " bytes");
        }
        return utf8(Fs.readAll(p), location);
    }

    private static String utf8(byte[] bytes, String where) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("prompt file " + where + " is not UTF-8 text; expected a UTF-8 prompt");
        }
    }
}
