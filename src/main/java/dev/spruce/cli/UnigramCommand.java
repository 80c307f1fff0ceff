package dev.spruce.cli;

import dev.spruce.data.TextSource;
import dev.spruce.eval.scoring.PerplexityResult;
import dev.spruce.eval.scoring.UnigramBaseline;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.eval.tasks.TextRecords;
import dev.spruce.io.Fs;
import dev.spruce.spark.SparkSessions;
import dev.spruce.tokenize.HfTokenizer;
import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code spruce unigram}: the perplexity floor of a corpus's unigram model on held-out text. */
@Command(name = "unigram", mixinStandardHelpOptions = true,
        description = "Perplexity of an add-one unigram model of a training corpus on held-out text, with the "
                + "evaluation protocol's windows (line unigram_ppl=<value>).")
public final class UnigramCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--corpus", required = true, description = "Training text (any Hadoop path).")
    private String corpus;

    @Option(names = "--format", defaultValue = "text-files", description = "Corpus format (default ${DEFAULT-VALUE}).")
    private String format;

    @Option(names = "--tokenizer", required = true, description = "Directory with tokenizer.json.")
    private String tokenizer;

    @Option(names = "--heldout", required = true, description = "Held-out text, one record per line.")
    private String heldout;

    @Option(names = "--seq-len", defaultValue = "128", description = "Window length (default ${DEFAULT-VALUE}).")
    private int seqLen;

    @Option(names = "--master", defaultValue = "local[*]", description = "Spark master (default ${DEFAULT-VALUE}).")
    private String master;

    @Override
    public Integer call() {
        UnigramBaseline unigram;
        List<PerplexityWindow> windows;
        try (HfTokenizer tok = HfTokenizer.load(Fs.path(tokenizer))) {
            unigram = UnigramBaseline.fit(SparkSessions.create("spruce-unigram", master, false, Map.of()),
                    new TextSource(corpus, format, "text"), tokenizer, tok.vocabSize());
            windows = PerplexityProtocol.nonOverlapping(seqLen).windows(
                    TextRecords.read(Fs.path(heldout), TextRecords.Format.TEXT, null), tok);
        }
        PerplexityResult r = unigram.score(windows);
        PrintWriter w = spec.commandLine().getOut();
        w.printf("corpus_tokens=%d scored_tokens=%d%n", unigram.totalTokens(), r.count());
        w.printf("unigram_ppl=%.4f%n", r.perplexity());
        w.flush();
        return 0;
    }
}
