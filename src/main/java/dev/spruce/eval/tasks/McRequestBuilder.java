package dev.spruce.eval.tasks;

import dev.spruce.tokenize.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * Tokenizes choices as the v0.3 harness does for causal models ({@code BaseLM.loglikelihood} with
 * {@code add_special_tokens=False}): context and continuation are encoded separately, without BOS, and simply
 * concatenated; an empty context becomes the single EOS ("end of text") token. When context plus continuation
 * exceed {@code maxLength + 1} tokens, the context is cut from the left, keeping the whole continuation (the
 * harness feeds {@code (context + continuation)[-(max_length + 1):][:-1]}).
 *
 * <p>With a {@link PromptPrefix} the context becomes prefix + context (no BOS, as without one). The prefix counts
 * against {@code maxLength} and is kept whole: the request's own context is cut from the left instead, since a
 * prompt cut in the middle would no longer be the prompt being evaluated.
 */
public final class McRequestBuilder {
    private final Tokenizer tokenizer;
    private final int maxLength;
    private final PromptPrefix prefix;

    /** {@code maxLength} is the model's context length (the harness uses {@code max_position_embeddings}). */
    public McRequestBuilder(Tokenizer tokenizer, int maxLength) {
        this(tokenizer, maxLength, PromptPrefix.NONE);
    }

    /** Requests that all start with {@code prefix}; it must leave room for one context and one continuation token. */
    public McRequestBuilder(Tokenizer tokenizer, int maxLength, PromptPrefix prefix) {
        if (maxLength < 1) {
            throw new IllegalArgumentException("maxLength must be positive, got " + maxLength);
        }
        if (prefix.length() > maxLength - 1) {
            throw new IllegalArgumentException("the prompt prefix " + prefix + " leaves no room in maxLength="
                    + maxLength + "; expected at most " + (maxLength - 1) + " prefix tokens");
        }
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.prefix = prefix;
    }

    public List<LoglikelihoodRequest> requests(Collection<McDoc> docs) {
        List<LoglikelihoodRequest> requests = new ArrayList<>();
        for (McDoc doc : docs) {
            requests.addAll(requests(doc));
        }
        return requests;
    }

    public List<LoglikelihoodRequest> requests(McDoc doc) {
        List<LoglikelihoodRequest> requests = new ArrayList<>(doc.choices().size());
        for (int i = 0; i < doc.choices().size(); i++) {
            McChoice choice = doc.choices().get(i);
            requests.add(request(doc.docKey(), i, choice.context(), choice.continuation()));
        }
        return requests;
    }

    public LoglikelihoodRequest request(String docKey, int choiceIndex, String context, String continuation) {
        int[] contextIds = context.isEmpty() ? new int[] {tokenizer.eosId()} : tokenizer.encode(context, false);
        int[] continuationIds = tokenizer.encode(continuation, false);
        int longest = maxLength - prefix.length();
        if (continuationIds.length == 0 || continuationIds.length > longest) {
            throw new IllegalArgumentException(docKey + " choice " + choiceIndex + ": the continuation '" + continuation
                    + "' has " + continuationIds.length + " tokens, expected 1 to maxLength=" + maxLength
                    + (prefix.isEmpty() ? "" : " minus the prompt prefix " + prefix + " = " + longest));
        }
        int contextBudget = maxLength + 1 - continuationIds.length - prefix.length();
        if (contextIds.length > contextBudget) {
            contextIds = Arrays.copyOfRange(contextIds, contextIds.length - contextBudget, contextIds.length);
        }
        if (!prefix.isEmpty()) {
            contextIds = prefix.insertInto(contextIds, -1); // never after a BOS: these requests have none
        }
        return new LoglikelihoodRequest(docKey, choiceIndex, contextIds, continuationIds);
    }
}
