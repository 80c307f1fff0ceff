package dev.spruce.eval.scoring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.spruce.eval.tasks.McChoice;
import dev.spruce.eval.tasks.McDoc;
import dev.spruce.eval.tasks.McFormat;
import dev.spruce.eval.tasks.McMetric;
import dev.spruce.eval.tasks.McTask;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class McScorerTest {
    private static final McTask GENERIC = McTask.of(McFormat.GENERIC);

    private static McDoc doc(String task, long line, int gold, String... normTexts) {
        List<McChoice> choices = new ArrayList<>();
        for (String text : normTexts) {
            choices.add(new McChoice("ctx", " " + text, text));
        }
        return new McDoc(task, line, choices, gold);
    }

    private static List<ChoiceLoglikelihood> scores(McDoc doc, double... loglikelihoods) {
        List<ChoiceLoglikelihood> scores = new ArrayList<>();
        for (int i = 0; i < loglikelihoods.length; i++) {
            scores.add(new ChoiceLoglikelihood(doc.docKey(), i, loglikelihoods[i]));
        }
        return scores;
    }

    @Test
    void goldWithTheHighestLoglikelihoodIsCorrect() {
        McDoc a = doc("generic", 1, 1, "xx", "yy", "zz");
        McDoc b = doc("generic", 2, 0, "xx", "yy");
        List<ChoiceLoglikelihood> all = new ArrayList<>(scores(a, -5.0, -1.0, -3.0));
        all.addAll(scores(b, -0.5, -2.0));

        TaskMetrics metrics = McScorer.score(GENERIC, List.of(a, b), all);

        assertEquals(1.0, metrics.acc());
        assertEquals(1.0, metrics.accNorm());
        assertEquals(0.0, metrics.accStderr());
        assertEquals(2, metrics.docs());
    }

    @Test
    void accAndAccNormDisagreeWhenChoiceLengthsDiffer() {
        // d1: sums -2, -4 over lengths 1, 4: acc picks 0 (wrong), norm -2 vs -1 picks 1 (right).
        McDoc d1 = doc("generic", 1, 1, "a", "bbbb");
        // d2: sums -1, -3 over lengths 1, 4: acc picks 0 (right), norm -1 vs -0.75 picks 1 (wrong).
        McDoc d2 = doc("generic", 2, 0, "a", "bbbb");
        // d3: sums -6, -3 over lengths 6, 1: acc picks 1 (wrong), norm -1 vs -3 picks 0 (right).
        McDoc d3 = doc("generic", 3, 0, "cccccc", "d");
        List<ChoiceLoglikelihood> all = new ArrayList<>(scores(d1, -2, -4));
        all.addAll(scores(d2, -1, -3));
        all.addAll(scores(d3, -6, -3));

        TaskMetrics metrics = McScorer.score(GENERIC, List.of(d1, d2, d3), all);

        assertEquals(1.0 / 3, metrics.acc(), 1e-15);
        assertEquals(2.0 / 3, metrics.accNorm(), 1e-15);
        // correctness [0,1,0]: sample variance ((1/3)^2 * 2 + (2/3)^2) / 2 = 1/3, stderr sqrt(1/3) / sqrt(3) = 1/3
        assertEquals(1.0 / 3, metrics.accStderr(), 1e-15);
        assertEquals(1.0 / 3, metrics.accNormStderr(), 1e-15);
        assertEquals(McMetric.ACC, metrics.reportedMetric());
        assertEquals(metrics.acc(), metrics.reported());
    }

    @Test
    void accNormDividesByCodePointsNotUtf16Units() {
        // "\uD83D\uDE00" is one character in Python: -3 / 1 < -4 / 2, so choice 1 wins (UTF-16 length 2 would pick 0).
        McDoc d = doc("generic", 1, 1, "\uD83D\uDE00", "ab");
        assertEquals(1.0, McScorer.score(GENERIC, List.of(d), scores(d, -3, -4)).accNorm());
    }

    @Test
    void tiesGoToTheLowestIndex() {
        assertEquals(0, McScorer.argmax(new double[] {-1, -1, -2}));
        assertEquals(1, McScorer.argmax(new double[] {-3, -1, -1}));
        assertEquals(1, McScorer.argmax(new double[] {-3, Double.NaN, 0})); // numpy treats NaN as the maximum
        McDoc goldFirst = doc("generic", 1, 0, "x", "y");
        McDoc goldSecond = doc("generic", 2, 1, "x", "y");
        List<ChoiceLoglikelihood> all = new ArrayList<>(scores(goldFirst, -1, -1));
        all.addAll(scores(goldSecond, -1, -1));
        assertEquals(0.5, McScorer.score(GENERIC, List.of(goldFirst, goldSecond), all).acc());
    }

    @Test
    void boolqTieCountsAsNoLikeTheHarnessComparison() {
        // The harness: acc = (ll_yes > ll_no) == label. Choices are [" no", " yes"], gold = label.
        McTask boolq = McTask.of(McFormat.BOOLQ);
        McDoc labelNo = doc("boolq", 1, 0, "no", "yes");
        McDoc labelYes = doc("boolq", 2, 1, "no", "yes");
        List<ChoiceLoglikelihood> all = new ArrayList<>(scores(labelNo, -2, -2));
        all.addAll(scores(labelYes, -2, -2));

        TaskMetrics metrics = McScorer.score(boolq, List.of(labelNo, labelYes), all);

        assertEquals(0.5, metrics.acc()); // the tie is right for label 0 only
        assertNull(metrics.accNorm());
        assertNull(metrics.accNormStderr());
        assertEquals(McMetric.ACC, metrics.reportedMetric());
    }

    @Test
    void boolqWithANaNLoglikelihoodPredictsNoLikeTheHarnessComparison() {
        // ll_yes > ll_no is false when either side is NaN, so the harness predicts "no"; an argmax would pick the NaN.
        McTask boolq = McTask.of(McFormat.BOOLQ);
        McDoc yesIsNaN = doc("boolq", 1, 0, "no", "yes");
        McDoc noIsNaN = doc("boolq", 2, 0, "no", "yes");
        McDoc yesIsNaNGoldYes = doc("boolq", 3, 1, "no", "yes");
        List<ChoiceLoglikelihood> all = new ArrayList<>(scores(yesIsNaN, -2, Double.NaN));
        all.addAll(scores(noIsNaN, Double.NaN, -2));
        all.addAll(scores(yesIsNaNGoldYes, -2, Double.NaN));

        TaskMetrics metrics = McScorer.score(boolq, List.of(yesIsNaN, noIsNaN, yesIsNaNGoldYes), all);

        assertEquals(2.0 / 3.0, metrics.acc(), 1e-15); // "no" is right for the two label-0 documents only
    }

    @Test
    void hellaswagReportsAccNorm() {
        McDoc d = doc("hellaswag", 1, 1, "a", "bbbb");
        TaskMetrics metrics = McScorer.score(McTask.of(McFormat.HELLASWAG), List.of(d), scores(d, -2, -4));
        assertEquals(0.0, metrics.acc());
        assertEquals(1.0, metrics.accNorm());
        assertEquals(McMetric.ACC_NORM, metrics.reportedMetric());
        assertEquals(1.0, metrics.reported());
        assertEquals(Double.NaN, metrics.reportedStderr()); // one document: no sample deviation
    }

    @Test
    void missingOrDuplicateScoresAreErrorsAndOtherTasksAreIgnored() {
        McDoc d = doc("generic", 4, 0, "x", "y");
        List<ChoiceLoglikelihood> onlyFirst = List.of(new ChoiceLoglikelihood("generic#4", 0, -1),
                new ChoiceLoglikelihood("piqa#4", 1, -1));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> McScorer.score(GENERIC, List.of(d), onlyFirst));
        assertEquals("no log-likelihood for choice 1 of generic#4", missing.getMessage());

        List<ChoiceLoglikelihood> twice = new ArrayList<>(scores(d, -1, -2));
        twice.add(new ChoiceLoglikelihood("generic#4", 1, -3));
        IllegalArgumentException duplicate = assertThrows(IllegalArgumentException.class,
                () -> McScorer.score(GENERIC, List.of(d), twice));
        assertEquals("two log-likelihoods for choice 1 of generic#4", duplicate.getMessage());
    }
}
