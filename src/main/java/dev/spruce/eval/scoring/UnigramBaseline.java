package dev.spruce.eval.scoring;

import dev.spruce.data.TextSource;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.io.Fs;
import dev.spruce.spark.ExecutorTokenizers;
import dev.spruce.tokenize.Tokenizer;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/**
 * The perplexity a unigram model (token frequencies of a training corpus, add-one smoothed) gets on the same
 * windows and scored tokens as the evaluation protocol: the floor a trained language model must beat by far.
 */
public final class UnigramBaseline {
    private final long[] counts;
    private final long total;

    private UnigramBaseline(long[] counts) {
        this.counts = counts;
        long t = 0;
        for (long c : counts) {
            t += c;
        }
        this.total = t;
    }

    /** Token counts of every document of {@code corpus} (tokenized with BOS, on the executors). */
    public static UnigramBaseline fit(SparkSession spark, TextSource corpus, String tokenizerPath, int vocabSize) {
        String tokenizer = Fs.absolute(tokenizerPath); // absolute here, on the driver
        long[] counts = corpus.documents(spark).javaRDD().mapPartitions(it -> {
            Tokenizer tok = ExecutorTokenizers.get(tokenizer);
            long[] c = new long[vocabSize];
            while (it.hasNext()) {
                for (int id : tok.encode(it.next(), true)) {
                    c[id]++;
                }
            }
            return List.of(c).iterator();
        }).fold(new long[vocabSize], (a, b) -> {
            long[] s = a.clone();
            for (int i = 0; i < s.length; i++) {
                s[i] += b[i];
            }
            return s;
        });
        return new UnigramBaseline(counts);
    }

    /** Add-one smoothed log-probability of a token. */
    public double logProbability(int token) {
        return Math.log((counts[token] + 1.0) / (total + counts.length));
    }

    /** The summed NLL and count over the scored tokens of the windows. */
    public PerplexityResult score(List<PerplexityWindow> windows) {
        double nll = 0;
        long n = 0;
        for (PerplexityWindow w : windows) {
            for (int t = w.firstScored(); t < w.ids().length; t++) {
                nll -= logProbability(w.ids()[t]);
                n++;
            }
        }
        return new PerplexityResult(nll, n);
    }

    public long totalTokens() {
        return total;
    }
}
