package dev.spruce.importance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.spruce.scope.LayerRange;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;


/** Design invariant 4: scores from any split of the calibration samples equal the single-pass scores. */
class DistributedScoringTest {
    private static final int SAMPLES = 10;

    @Test
    void everyCriterionScoresTheSameOnAnySplitOfTheSamples() {
        // GQA (4 heads, 2 kv heads), untied head, hidden channels on: every member kind is exercised.
        TinyModel model = new TinyModel(TinyModel.config(2, 8, 4, 2, 6, false), SAMPLES, 7L);
        List<List<int[]>> splits = List.of(shards(10), shards(5, 5), shards(3, 3, 2, 2), shards(1, 3, 6));
        for (Criterion c : Criterion.values()) {
            ScoringSettings settings = ScoringSettings.blockWise(c, LayerRange.all(2), LayerRange.all(2))
                    .withHiddenChannels(true);
            GroupScorer scorer = new GroupScorer(model.config, settings);
            ImportanceScores single = scorer.score(
                    MemberVectors.of(model.memberVectors(c, scorer.members(), splits.get(0))));
            for (List<int[]> split : splits.subList(1, splits.size())) {
                ImportanceScores sharded = scorer.score(
                        MemberVectors.of(model.memberVectors(c, scorer.members(), split)));
                String what = c.referenceName() + " over " + split.size() + " shards";
                assertEquals(c.referenceName(), sharded.criterion());
                for (int l = 0; l < 2; l++) {
                    assertEquals(2, sharded.attention()[l].length, what);
                    assertEquals(6, sharded.mlp()[l].length, what);
                    Close.assertRelative(single.attention()[l], sharded.attention()[l], 1e-9, what + " attention " + l);
                    Close.assertRelative(single.mlp()[l], sharded.mlp()[l], 1e-9, what + " mlp " + l);
                }
                Close.assertRelative(single.hidden(), sharded.hidden(), 1e-9, what + " hidden");
            }
        }
    }

    /** Consecutive shards of the given sizes over samples 0..N-1. */
    private static List<int[]> shards(int... sizes) {
        List<int[]> out = new ArrayList<>();
        int start = 0;
        for (int size : sizes) {
            out.add(IntStream.range(start, start + size).toArray());
            start += size;
        }
        assertEquals(SAMPLES, start);
        return out;
    }
}
