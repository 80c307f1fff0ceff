package dev.spruce.data;

import dev.spruce.tokenize.Tokenizer;
import java.util.Arrays;

/**
 * Tokenizes one Alpaca record as the reference does (llm-pruner.md §4): the full text with BOS, truncated
 * at the cutoff; EOS appended when the last id is not EOS and there is room; with
 * {@code trainOnInputs=false} the prompt's tokens (BOS, no EOS) are excluded from the loss. The prompt comes from a
 * {@link PromptTemplate}: Alpaca's by default, or Compresso's collaborative one; the rule is the same for any.
 */
public final class InstructionTokens {
    private InstructionTokens() {}

    /** The sample with the Alpaca template, or null when the prompt alone fills the cutoff. */
    public static TokenSample tokenize(Tokenizer tok, long id, String instruction, String input, String output,
                                       int cutoff, boolean trainOnInputs) {
        return tokenize(tok, id, PromptTemplate.ALPACA, instruction, input, output, cutoff, trainOnInputs);
    }

    /** The sample, or null when the prompt alone fills the cutoff (no response token would be trained). */
    public static TokenSample tokenize(Tokenizer tok, long id, PromptTemplate template, String instruction,
                                       String input, String output, int cutoff, boolean trainOnInputs) {
        String prompt = template.prompt(instruction, input);
        int[] full = tok.encode(prompt + output, true);
        if (full.length > cutoff) {
            full = Arrays.copyOf(full, cutoff);
        }
        if (full.length > 0 && full[full.length - 1] != tok.eosId() && full.length < cutoff) {
            full = Arrays.copyOf(full, full.length + 1);
            full[full.length - 1] = tok.eosId();
        }
        int promptLength = trainOnInputs ? 0 : tok.encode(prompt, true).length;
        if (promptLength >= full.length) {
            return null;
        }
        return new TokenSample(id, full, promptLength);
    }
}
