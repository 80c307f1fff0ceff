package dev.spruce.data;

import java.io.Serializable;

/**
 * One tokenized sample, a Java bean so Spark's bean encoder gives a typed {@code Dataset<TokenSample>}.
 * {@code id} is global and stable (it orders samples and seeds per-sample randomness); {@code promptLength}
 * is the number of leading tokens excluded from the loss (0 = train on every token). For distillation from
 * precomputed teacher targets, {@code teacherTokens} and {@code teacherLogProbs} hold the teacher's top k tokens
 * and their log-probabilities at each scored position in order (k entries a position); null otherwise.
 */
public class TokenSample implements Serializable {
    private static final long serialVersionUID = 1L;

    private long id;
    private int[] tokens;
    private int promptLength;
    private int[] teacherTokens;
    private float[] teacherLogProbs;

    public TokenSample() {}

    public TokenSample(long id, int[] tokens, int promptLength) {
        this.id = id;
        this.tokens = tokens;
        this.promptLength = promptLength;
    }

    public static TokenSample of(long id, int[] tokens) {
        return new TokenSample(id, tokens, 0);
    }

    public long getId() {
        return id;
    }

    public void setId(long id) {
        this.id = id;
    }

    public int[] getTokens() {
        return tokens;
    }

    public void setTokens(int[] tokens) {
        this.tokens = tokens;
    }

    public int getPromptLength() {
        return promptLength;
    }

    public void setPromptLength(int promptLength) {
        this.promptLength = promptLength;
    }

    public int[] getTeacherTokens() {
        return teacherTokens;
    }

    public void setTeacherTokens(int[] teacherTokens) {
        this.teacherTokens = teacherTokens;
    }

    public float[] getTeacherLogProbs() {
        return teacherLogProbs;
    }

    public void setTeacherLogProbs(float[] teacherLogProbs) {
        this.teacherLogProbs = teacherLogProbs;
    }
}
