package dev.spruce.prune;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.model.LlamaConfig;
import java.util.Arrays;

/**
 * The reference's {@code --global_pruning} (llm-pruner.md §1.6): the unit scores of all pruned layers (kv groups
 * and MLP channels together) share one threshold. With U units initially, {@code n = len - int(U * (1 - r))};
 * the threshold is the n-th smallest score and every unit scoring at most the threshold goes. Head scores sum
 * more terms than channel scores, so the mix is not scale-fair; the paper's results use local ranking.
 */
final class GlobalRanking {
    private GlobalRanking() {}

    static Removals removals(LlamaConfig original, LlamaConfig current, ImportanceScores scores, PlanSettings s,
                             double r) {
        Removals out = Removals.none(current);
        int layers = current.numHiddenLayers();
        long initialUnits = 0;
        int currentUnits = 0;
        for (int l = 0; l < layers; l++) {
            if (s.prunesAttention(l)) {
                initialUnits += original.layerKvHeads(l);
                currentUnits += current.layerKvHeads(l);
            }
            if (s.prunesMlp(l)) {
                initialUnits += original.layerIntermediate(l);
                currentUnits += current.layerIntermediate(l);
            }
        }
        long n = currentUnits - (long) (initialUnits * (1 - r));
        if (n <= 0) {
            return out;
        }
        double[] all = new double[currentUnits];
        int k = 0;
        for (int l = 0; l < layers; l++) {
            if (s.prunesAttention(l)) {
                System.arraycopy(scores.attention()[l], 0, all, k, current.layerKvHeads(l));
                k += current.layerKvHeads(l);
            }
            if (s.prunesMlp(l)) {
                System.arraycopy(scores.mlp()[l], 0, all, k, current.layerIntermediate(l));
                k += current.layerIntermediate(l);
            }
        }
        Arrays.sort(all);
        double threshold = all[(int) n - 1];
        for (int l = 0; l < layers; l++) {
            if (s.prunesAttention(l)) {
                out.kvGroups()[l] = atOrBelow(scores.attention()[l], threshold, s.kvGroupMultiple());
            }
            if (s.prunesMlp(l)) {
                out.channels()[l] = atOrBelow(scores.mlp()[l], threshold, s.channelMultiple());
            }
        }
        return out;
    }

    /**
     * Units of one layer scoring at most the threshold, extended to the next lowest units when the kept width
     * must be a multiple; 0 when the layer would lose everything (the reference skips such a group).
     */
    private static int atOrBelow(double[] layerScores, double threshold, int multiple) {
        int width = layerScores.length;
        int count = 0;
        for (double v : layerScores) {
            if (v <= threshold) {
                count++;
            }
        }
        if (count == 0 || count >= width) {
            return 0;
        }
        return width - UnitOrder.roundKeptDown(width - count, width, multiple);
    }
}
