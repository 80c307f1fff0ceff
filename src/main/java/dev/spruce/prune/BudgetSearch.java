package dev.spruce.prune;

import dev.spruce.importance.ImportanceScores;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.InvalidPlanException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Budget mode (beyond the reference): removes units until the whole model has at most the target number of
 * parameters. A unit's score is divided by the parameters it holds, so a kv group (many parameters) and an MLP
 * channel (few) compete per parameter; the lowest such score goes first, across all prunable layers.
 *
 * <p>Units leave in blocks so kept widths stay multiples of {@code kvGroupMultiple} / {@code channelMultiple}.
 * A "lane" is what shrinks together: one layer's attention or MLP, or, with {@code uniform}, the attention (or
 * MLP) of every prunable layer at once, so all of them keep the same width. Removal stops at the first block
 * that brings the model to the target, so the result undershoots it by less than one block.
 */
final class BudgetSearch {
    private BudgetSearch() {}

    /** Units that shrink together; {@code sorted[i]} holds layer {@code layers[i]}'s scores, ascending. */
    private static final class Lane {
        final boolean attention;
        final int[] layers;
        final double[][] sorted;
        final long unitCost;
        final int width;
        final int multiple;
        final int minKept;
        int removed;

        Lane(boolean attention, int[] layers, double[][] sorted, long unitCost, int width, int multiple) {
            this.attention = attention;
            this.layers = layers;
            this.sorted = sorted;
            this.unitCost = unitCost;
            this.width = width;
            this.multiple = multiple;
            this.minKept = multiple <= width ? multiple : width;
        }

        /** Units the next block removes: down to the next lower multiple; 0 when at the minimum width. */
        int nextBlock() {
            int kept = width - removed;
            if (kept <= minKept) {
                return 0;
            }
            return kept % multiple == 0 ? multiple : kept % multiple;
        }

        /** The next block's summed scores per parameter it holds. */
        double nextBlockScore(int size) {
            double sum = 0;
            for (double[] layer : sorted) {
                for (int i = removed; i < removed + size; i++) {
                    sum += layer[i];
                }
            }
            return sum / ((double) size * unitCost);
        }
    }

    private record Candidate(Lane lane, int size, double score, int order) {}

    static Removals removals(LlamaConfig c, ImportanceScores scores, PlanSettings s, long target) {
        long before = c.parameterCount();
        if (target > before) {
            throw new InvalidPlanException("target_params " + target + " is larger than the model, which has "
                    + before + " parameters");
        }
        List<Lane> lanes = lanes(c, scores, s);
        long floor = before;
        long prunable = 0;
        for (Lane lane : lanes) {
            floor -= (long) (lane.width - lane.minKept) * lane.unitCost;
            prunable += (long) lane.width * lane.unitCost;
        }
        if (target < floor) {
            long minimumWidths = floor - (before - prunable);
            throw new InvalidPlanException("target_params " + target + " is below the smallest model these "
                    + "settings allow, " + floor + " parameters: the parts never pruned (embeddings, norms, "
                    + "layers outside the ranges and " + s.protectedLayers().size() + " protected layer(s)) keep "
                    + (before - prunable) + " parameters, and the minimum kept widths of the pruned layers (at "
                    + "least " + s.kvGroupMultiple() + " kv group(s) and " + s.channelMultiple()
                    + " MLP channel(s) per layer) keep " + minimumWidths + " more");
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>(Comparator.comparingDouble(Candidate::score)
                .thenComparingInt(Candidate::order));
        for (int i = 0; i < lanes.size(); i++) {
            offer(queue, lanes.get(i), i);
        }
        long params = before;
        while (params > target) {
            Candidate next = queue.poll();
            if (next == null) {
                throw new IllegalStateException("budget search ran out of blocks above the checked floor " + floor);
            }
            next.lane().removed += next.size();
            params -= (long) next.size() * next.lane().unitCost;
            offer(queue, next.lane(), next.order());
        }
        Removals out = Removals.none(c);
        for (Lane lane : lanes) {
            for (int l : lane.layers) {
                int[] counts = lane.attention ? out.kvGroups() : out.channels();
                counts[l] = lane.removed;
            }
        }
        return out;
    }

    private static void offer(PriorityQueue<Candidate> queue, Lane lane, int order) {
        int size = lane.nextBlock();
        if (size > 0) {
            queue.add(new Candidate(lane, size, lane.nextBlockScore(size), order));
        }
    }

    private static List<Lane> lanes(LlamaConfig c, ImportanceScores scores, PlanSettings s) {
        List<Integer> attention = new ArrayList<>();
        List<Integer> mlp = new ArrayList<>();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            if (s.prunesAttention(l)) {
                attention.add(l);
            }
            if (s.prunesMlp(l)) {
                mlp.add(l);
            }
        }
        List<Lane> lanes = new ArrayList<>();
        if (s.uniform()) {
            addLane(lanes, c, true, attention, scores.attention(), s.kvGroupMultiple());
            addLane(lanes, c, false, mlp, scores.mlp(), s.channelMultiple());
        } else {
            for (int l : attention) {
                addLane(lanes, c, true, List.of(l), scores.attention(), s.kvGroupMultiple());
            }
            for (int l : mlp) {
                addLane(lanes, c, false, List.of(l), scores.mlp(), s.channelMultiple());
            }
        }
        return lanes;
    }

    private static void addLane(List<Lane> lanes, LlamaConfig c, boolean attention, List<Integer> layers,
                                double[][] scores, int multiple) {
        if (layers.isEmpty()) {
            return;
        }
        String name = attention ? "kv-group" : "MLP";
        int first = layers.get(0);
        int width = attention ? c.layerKvHeads(first) : c.layerIntermediate(first);
        double[][] sorted = new double[layers.size()][];
        long unitCost = 0;
        for (int i = 0; i < layers.size(); i++) {
            int l = layers.get(i);
            int w = attention ? c.layerKvHeads(l) : c.layerIntermediate(l);
            if (w != width) {
                throw new InvalidPlanException("uniform widths need equal " + name + " widths in the pruned layers "
                        + "to start from: layer " + first + " has " + width + ", layer " + l + " has " + w);
            }
            double[] row = scores[l].clone();
            Arrays.sort(row);
            sorted[i] = row;
            unitCost += attention ? Removals.kvGroupCost(c, l) : Removals.channelCost(c);
        }
        lanes.add(new Lane(attention, layers.stream().mapToInt(Integer::intValue).toArray(), sorted, unitCost, width,
                multiple));
    }
}
