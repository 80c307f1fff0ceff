package dev.spruce.eval.tasks;

import java.io.Serializable;

/**
 * Token ids put in front of every log-likelihood request (Compresso's collaborative prompt at evaluation, or any
 * other fixed text), as context only: they are never scored. The request builders apply it, because that is
 * where each protocol decides its own BOS and its length budget ({@link McRequestBuilder},
 * {@link PerplexityProtocol#windows(java.util.List, dev.spruce.tokenize.Tokenizer, PromptPrefix)}); the scorer
 * then sees ordinary sequences and needs no change. {@link #NONE} leaves every request exactly as it was.
 *
 * <p>The ids are the prefix text encoded without BOS. Where a request starts with a BOS (the first perplexity
 * window: the corpus is tokenized with one BOS at its start) the prefix goes after it, so the model still reads
 * BOS first and the prefix as the beginning of the text, as it would in training. Where a request has no BOS
 * (multiple-choice requests, which the v0.3 harness encodes without special tokens, and later perplexity
 * windows, which start mid-corpus) the prefix goes first and no BOS is added: the only tokens the option
 * changes are the prefix's own.
 *
 * @param name what the prefix was chosen as (none, training, past or a file), for logs
 */
public record PromptPrefix(String name, int[] ids) implements Serializable {
    public static final PromptPrefix NONE = new PromptPrefix("none", new int[0]);

    public PromptPrefix {
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    public int length() {
        return ids.length;
    }

    public boolean isEmpty() {
        return ids.length == 0;
    }

    /** {@code tokens} with the prefix in front: after {@code tokens[0]} when that is {@code bosId}, else first. */
    public int[] insertInto(int[] tokens, int bosId) {
        int at = bosId >= 0 && tokens.length > 0 && tokens[0] == bosId ? 1 : 0;
        int[] out = new int[tokens.length + ids.length];
        System.arraycopy(tokens, 0, out, 0, at);
        System.arraycopy(ids, 0, out, at, ids.length);
        System.arraycopy(tokens, at, out, at + ids.length, tokens.length - at);
        return out;
    }

    /** The window with the prefix as extra context: the same tokens scored, each after the prefix. */
    public PerplexityWindow applyTo(PerplexityWindow window, int bosId) {
        if (isEmpty()) {
            return window;
        }
        return new PerplexityWindow(insertInto(window.ids(), bosId), window.firstScored() + ids.length);
    }

    @Override
    public String toString() {
        return name + " (" + ids.length + " tokens)";
    }
}
