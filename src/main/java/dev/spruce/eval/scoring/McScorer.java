package dev.spruce.eval.scoring;

import dev.spruce.eval.tasks.McDoc;
import dev.spruce.eval.tasks.McFormat;
import dev.spruce.eval.tasks.McTask;
import dev.spruce.eval.tasks.PythonStrings;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Scores a task from the summed log-likelihood of every choice, as the harness' {@code MultipleChoiceTask} does:
 * acc takes the argmax of the sums, acc_norm the argmax of each sum divided by the choice's length in characters
 * ({@code McChoice.normText()}); both pick the lowest index on ties, like {@code numpy.argmax}.
 */
public final class McScorer {
    private McScorer() {}

    /**
     * Scores {@code docs}. {@code loglikelihoods} must hold exactly one value for every choice of every document;
     * values of other documents (other tasks) are ignored, so one collection of all results serves every task.
     */
    public static TaskMetrics score(McTask task, List<McDoc> docs, Collection<ChoiceLoglikelihood> loglikelihoods) {
        if (docs.isEmpty()) {
            throw new IllegalArgumentException("task " + task.name() + " has no documents to score");
        }
        Map<String, double[]> byDoc = gather(docs, loglikelihoods);
        boolean norm = task.format().definesAccNorm();
        double[] correct = new double[docs.size()];
        double[] correctNorm = new double[docs.size()];
        for (int d = 0; d < docs.size(); d++) {
            McDoc doc = docs.get(d);
            double[] sums = byDoc.get(doc.docKey());
            correct[d] = predict(task.format(), sums) == doc.gold() ? 1.0 : 0.0;
            if (norm) {
                double[] normalized = new double[sums.length];
                for (int i = 0; i < sums.length; i++) {
                    normalized[i] = sums[i] / PythonStrings.length(doc.choices().get(i).normText());
                }
                correctNorm[d] = argmax(normalized) == doc.gold() ? 1.0 : 0.0;
            }
        }
        return new TaskMetrics(task.name(), task.format().reportedMetric(), docs.size(),
                mean(correct), meanStderr(correct),
                norm ? mean(correctNorm) : null, norm ? meanStderr(correctNorm) : null);
    }

    /**
     * The predicted choice. BoolQ's harness task is not a multiple-choice task: it predicts "yes" exactly when
     * {@code ll_yes > ll_no}, so a tie or a NaN on either side predicts "no" (choice 0, see McPrompts). Every
     * other task takes the {@link #argmax}.
     */
    static int predict(McFormat format, double[] sums) {
        if (format == McFormat.BOOLQ) {
            return sums[1] > sums[0] ? 1 : 0;
        }
        return argmax(sums);
    }

    /** The index of the largest value, the lowest one on ties; a NaN counts as the largest, as in numpy. */
    public static int argmax(double[] values) {
        int best = 0;
        for (int i = 0; i < values.length; i++) {
            if (Double.isNaN(values[i])) {
                return i;
            }
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    private static Map<String, double[]> gather(List<McDoc> docs, Collection<ChoiceLoglikelihood> loglikelihoods) {
        Map<String, McDoc> docsByKey = new HashMap<>();
        Map<String, double[]> sums = new HashMap<>();
        Map<String, boolean[]> seen = new HashMap<>();
        for (McDoc doc : docs) {
            if (docsByKey.put(doc.docKey(), doc) != null) {
                throw new IllegalArgumentException("document " + doc.docKey() + " is listed twice");
            }
            sums.put(doc.docKey(), new double[doc.choices().size()]);
            seen.put(doc.docKey(), new boolean[doc.choices().size()]);
        }
        for (ChoiceLoglikelihood ll : loglikelihoods) {
            double[] docSums = sums.get(ll.docKey());
            if (docSums == null) {
                continue;
            }
            boolean[] docSeen = seen.get(ll.docKey());
            if (ll.choiceIndex() < 0 || ll.choiceIndex() >= docSums.length) {
                throw new IllegalArgumentException("log-likelihood for choice " + ll.choiceIndex() + " of "
                        + ll.docKey() + ", which has " + docSums.length + " choices");
            }
            if (docSeen[ll.choiceIndex()]) {
                throw new IllegalArgumentException("two log-likelihoods for choice " + ll.choiceIndex() + " of "
                        + ll.docKey());
            }
            docSeen[ll.choiceIndex()] = true;
            docSums[ll.choiceIndex()] = ll.loglikelihood();
        }
        for (Map.Entry<String, boolean[]> entry : seen.entrySet()) {
            boolean[] docSeen = entry.getValue();
            for (int i = 0; i < docSeen.length; i++) {
                if (!docSeen[i]) {
                    throw new IllegalArgumentException("no log-likelihood for choice " + i + " of " + entry.getKey());
                }
            }
        }
        return sums;
    }

    private static double mean(double[] values) {
        double sum = 0;
        for (double v : values) {
            sum += v;
        }
        return sum / values.length;
    }

    /** The harness' {@code mean_stderr}: sample standard deviation / sqrt(n). */
    static double meanStderr(double[] values) {
        int n = values.length;
        if (n < 2) {
            return Double.NaN;
        }
        double mu = mean(values);
        double squares = 0;
        for (double v : values) {
            squares += (v - mu) * (v - mu);
        }
        return Math.sqrt(squares / (n - 1)) / Math.sqrt(n);
    }
}
