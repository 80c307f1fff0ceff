package dev.spruce.eval.tasks;

import dev.spruce.tokenize.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * LLM-Pruner's perplexity protocol ({@code PPLMetric}): all records joined with {@value #RECORD_SEPARATOR}, the
 * whole text tokenized once with a single BOS at its start, then cut into windows of {@code seqLen} tokens.
 *
 * <p>Non-overlapping (the paper's protocol, {@link #nonOverlapping}): window {@code i} holds tokens
 * {@code [i*seqLen, (i+1)*seqLen)}, the remainder after the last full window is dropped, and each window scores
 * its tokens {@code 1..seqLen-1}; the first token of every window is never predicted.
 *
 * <p>Sliding ({@link #sliding}, Hugging Face's "perplexity of fixed-length models" loop): windows start at
 * {@code 0, stride, 2*stride, ...} and end at {@code min(start + seqLen, N)}; each window scores only the tokens
 * at or after the previous window's end, with the tokens before them as context, and the loop stops with the
 * window that reaches the end of the corpus. So every token except the very first (the BOS) is scored exactly
 * once, the last window may be shorter than {@code seqLen}, and no remainder is dropped.
 */
public final class PerplexityProtocol {
    public static final int DEFAULT_SEQ_LEN = 128;
    public static final String RECORD_SEPARATOR = "\n\n";

    private final int seqLen;
    private final int stride;

    private PerplexityProtocol(int seqLen, int stride) {
        if (seqLen < 2) {
            throw new IllegalArgumentException("seqLen must be at least 2 (one context and one scored token), got " + seqLen);
        }
        if (stride < 1 || stride > seqLen) {
            throw new IllegalArgumentException("stride must be in [1, seqLen=" + seqLen + "], got " + stride);
        }
        this.seqLen = seqLen;
        this.stride = stride;
    }

    public static PerplexityProtocol nonOverlapping(int seqLen) {
        return new PerplexityProtocol(seqLen, seqLen);
    }

    /** Overlapping windows; {@code stride} must be smaller than {@code seqLen}. */
    public static PerplexityProtocol sliding(int seqLen, int stride) {
        if (stride >= seqLen) {
            throw new IllegalArgumentException("a sliding window needs stride < seqLen, got stride " + stride
                    + " and seqLen " + seqLen + " (use nonOverlapping for stride == seqLen)");
        }
        return new PerplexityProtocol(seqLen, stride);
    }

    public int seqLen() {
        return seqLen;
    }

    public int stride() {
        return stride;
    }

    public boolean isSliding() {
        return stride < seqLen;
    }

    public static String joinRecords(List<String> records) {
        return String.join(RECORD_SEPARATOR, records);
    }

    /** The corpus as one token sequence: joined records, one BOS at the start. */
    public static int[] tokenize(List<String> records, Tokenizer tokenizer) {
        return tokenizer.encode(joinRecords(records), true);
    }

    public List<PerplexityWindow> windows(List<String> records, Tokenizer tokenizer) {
        return windows(tokenize(records, tokenizer));
    }

    /**
     * The windows of the records, each with {@code prefix} in front as unscored context (after the corpus' BOS in
     * the first window): every window scores the same tokens as without the prefix, only with more before them.
     */
    public List<PerplexityWindow> windows(List<String> records, Tokenizer tokenizer, PromptPrefix prefix) {
        List<PerplexityWindow> windows = windows(records, tokenizer);
        if (prefix.isEmpty()) {
            return windows;
        }
        List<PerplexityWindow> out = new ArrayList<>(windows.size());
        for (PerplexityWindow w : windows) {
            out.add(prefix.applyTo(w, tokenizer.bosId()));
        }
        return out;
    }

    public List<PerplexityWindow> windows(int[] corpusIds) {
        List<PerplexityWindow> windows = isSliding() ? slidingWindows(corpusIds) : disjointWindows(corpusIds);
        if (windows.isEmpty()) {
            throw new IllegalArgumentException("the corpus has " + corpusIds.length + " tokens, too few for one window of "
                    + seqLen + " tokens");
        }
        return windows;
    }

    public static long predictedTokens(List<PerplexityWindow> windows) {
        long total = 0;
        for (PerplexityWindow w : windows) {
            total += w.predictedTokens();
        }
        return total;
    }

    private List<PerplexityWindow> disjointWindows(int[] ids) {
        int count = ids.length / seqLen;
        List<PerplexityWindow> windows = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            windows.add(new PerplexityWindow(Arrays.copyOfRange(ids, i * seqLen, (i + 1) * seqLen), 1));
        }
        return windows;
    }

    private List<PerplexityWindow> slidingWindows(int[] ids) {
        List<PerplexityWindow> windows = new ArrayList<>();
        if (ids.length < 2) {
            return windows;
        }
        int previousEnd = 0;
        for (int begin = 0; ; begin += stride) {
            int end = Math.min(begin + seqLen, ids.length);
            // The corpus' first token has nothing before it, so it is never scored.
            int firstScored = Math.max(previousEnd - begin, 1);
            windows.add(new PerplexityWindow(Arrays.copyOfRange(ids, begin, end), firstScored));
            previousEnd = end;
            if (end == ids.length) {
                return windows;
            }
        }
    }

    @Override
    public String toString() {
        return isSliding() ? "sliding(seqLen=" + seqLen + ", stride=" + stride + ")" : "nonOverlapping(seqLen=" + seqLen + ")";
    }
}
