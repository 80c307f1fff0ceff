package dev.spruce.importance;

import dev.spruce.model.LlamaConfig;
import dev.spruce.model.TensorNames;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Turns member vectors into one score per prunable unit of a LLaMA model (llm-pruner.md §1.2, §1.3, §1.8, §2.5).
 *
 * <p>Groups and their members, root first:
 * <ul>
 *   <li>Attention kv group g of layer l (n_rep = heads / kv_heads; for MHA n_rep = 1 and the unit is one head):
 *       q rows, k rows, v rows, o columns; the root is q for MHA ({@code hf_prune.py}) and k for GQA
 *       ({@code llama3.py}). The q/o vectors ({@code heads·hd} long) are first folded onto the
 *       {@code kv_heads·hd} kv channels by the configured {@link GqaFold} (§1.8, §2.5 step 2).</li>
 *   <li>MLP channel j: gate rows, up rows, down columns; root gate.</li>
 *   <li>Hidden channel c (§1.2 "Channel group", one global group): layer 0's input_layernorm (the root), embedding
 *       columns, every RMSNorm entry, q/k/v/gate/up columns, o/down rows, lm_head columns when untied. With tied
 *       embeddings the one embedding matrix is one member (its gradient already carries both uses).</li>
 * </ul>
 * The aligned member vectors are combined element-wise by the {@link GroupReduction} (§2.5 step 3); attention then
 * sums the {@code head_dim} channels of each kv group (§1.3, §2.5 step 4). With {@code param_first} and
 * {@code sum} this gives §2.5's closed forms.
 *
 * <p>{@code random} (§2.4): the reference draws {@code torch.rand} per root channel (kv_heads·hd for attention,
 * since the root q (MHA) or k (GQA) has that many rows; the intermediate size for MLP; the hidden size for hidden
 * channels) and then aggregates heads as above. Here the draws come from a {@link SplittableRandom} seeded from the
 * settings' seed and the group (attention or MLP of layer l, or hidden), so a layer's draws do not depend on which
 * other layers are scored. Torch's stream is not reproduced (llm-pruner.md §8: compare random runs statistically).
 *
 * <p>A layer outside the configured ranges gets a null row; a layer in range with zero heads (or zero MLP channels)
 * gets an empty row.
 */
public final class GroupScorer {
    /** Odd 64-bit constant that spreads stream indices over seeds (the golden-ratio increment). */
    private static final long STREAM_SPREAD = 0x9E3779B97F4A7C15L;

    private final LlamaConfig config;
    private final ScoringSettings settings;

    /** A member and the length its vector must have. */
    private record Slot(Member member, int length, String lengthMeaning) {}

    public GroupScorer(LlamaConfig config, ScoringSettings settings) {
        this.config = Objects.requireNonNull(config, "config");
        this.settings = Objects.requireNonNull(settings, "settings");
        settings.attentionLayers().requireWithin(config, "attention");
        settings.mlpLayers().requireWithin(config, "mlp");
    }

    /**
     * The member vectors {@link #score} will ask for, in a stable order: what the estimation job must compute.
     * Empty for {@code random}; with {@link GroupReduction#FIRST} only the root members.
     */
    public List<Member> members() {
        Set<Member> members = new LinkedHashSet<>();
        if (settings.criterion() != Criterion.RANDOM) {
            for (List<Slot> group : groups()) {
                for (Slot s : usedSlots(group)) {
                    members.add(s.member());
                }
            }
        }
        return List.copyOf(members);
    }

    /** Scores every configured unit from the member vectors (none are read for {@code random}). */
    public ImportanceScores score(MemberVectors vectors) {
        int layers = config.numHiddenLayers();
        double[][] attention = new double[layers][];
        double[][] mlp = new double[layers][];
        for (int l = 0; l < layers; l++) {
            if (settings.attentionLayers().contains(l)) {
                attention[l] = attentionScores(l, vectors);
            }
            if (settings.mlpLayers().contains(l)) {
                mlp[l] = channelScores(mlpSlots(l), config.layerIntermediate(l), 2L * l + 2, vectors);
            }
        }
        double[] hidden = settings.hiddenChannels()
                ? channelScores(hiddenSlots(), config.hiddenSize(), 0, vectors) : null;
        return new ImportanceScores(settings.criterion().referenceName(), attention, mlp, hidden);
    }

    // ---------------------------------------------------------------- groups

    private List<List<Slot>> groups() {
        List<List<Slot>> groups = new ArrayList<>();
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            if (settings.attentionLayers().contains(l)) {
                groups.add(attentionSlots(l));
            }
            if (settings.mlpLayers().contains(l)) {
                groups.add(mlpSlots(l));
            }
        }
        if (settings.hiddenChannels()) {
            groups.add(hiddenSlots());
        }
        return groups;
    }

    private List<Slot> usedSlots(List<Slot> group) {
        return settings.reduction() == GroupReduction.FIRST && !group.isEmpty() ? group.subList(0, 1) : group;
    }

    private List<Slot> attentionSlots(int l) {
        int heads = config.layerHeads(l);
        if (heads == 0) {
            return List.of();
        }
        int hd = config.headDim();
        int queryChannels = heads * hd;
        int kvChannels = config.layerKvHeads(l) * hd;
        String q = "num_attention_heads*head_dim of layer " + l;
        String kv = "num_key_value_heads*head_dim of layer " + l;
        Slot qRows = slot(TensorNames.layer(l, TensorNames.Q), Axis.ROW, queryChannels, q);
        Slot kRows = slot(TensorNames.layer(l, TensorNames.K), Axis.ROW, kvChannels, kv);
        Slot vRows = slot(TensorNames.layer(l, TensorNames.V), Axis.ROW, kvChannels, kv);
        Slot oColumns = slot(TensorNames.layer(l, TensorNames.O), Axis.COLUMN, queryChannels, q);
        return config.groupSize(l) == 1
                ? List.of(qRows, kRows, vRows, oColumns)
                : List.of(kRows, qRows, vRows, oColumns);
    }

    private List<Slot> mlpSlots(int l) {
        int m = config.layerIntermediate(l);
        if (m == 0) {
            return List.of();
        }
        String meaning = "intermediate_size of layer " + l;
        return List.of(slot(TensorNames.layer(l, TensorNames.GATE), Axis.ROW, m, meaning),
                slot(TensorNames.layer(l, TensorNames.UP), Axis.ROW, m, meaning),
                slot(TensorNames.layer(l, TensorNames.DOWN), Axis.COLUMN, m, meaning));
    }

    private List<Slot> hiddenSlots() {
        int d = config.hiddenSize();
        String meaning = "hidden_size";
        List<Slot> slots = new ArrayList<>();
        slots.add(slot(TensorNames.layer(0, TensorNames.INPUT_NORM), Axis.ENTRY, d, meaning));
        slots.add(slot(TensorNames.EMBED, Axis.COLUMN, d, meaning));
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            if (l > 0) {
                slots.add(slot(TensorNames.layer(l, TensorNames.INPUT_NORM), Axis.ENTRY, d, meaning));
            }
            if (config.layerHeads(l) > 0) {
                for (String input : List.of(TensorNames.Q, TensorNames.K, TensorNames.V)) {
                    slots.add(slot(TensorNames.layer(l, input), Axis.COLUMN, d, meaning));
                }
                slots.add(slot(TensorNames.layer(l, TensorNames.O), Axis.ROW, d, meaning));
            }
            slots.add(slot(TensorNames.layer(l, TensorNames.POST_NORM), Axis.ENTRY, d, meaning));
            if (config.layerIntermediate(l) > 0) {
                slots.add(slot(TensorNames.layer(l, TensorNames.GATE), Axis.COLUMN, d, meaning));
                slots.add(slot(TensorNames.layer(l, TensorNames.UP), Axis.COLUMN, d, meaning));
                slots.add(slot(TensorNames.layer(l, TensorNames.DOWN), Axis.ROW, d, meaning));
            }
        }
        slots.add(slot(TensorNames.FINAL_NORM, Axis.ENTRY, d, meaning));
        if (!config.tieWordEmbeddings()) {
            slots.add(slot(TensorNames.LM_HEAD, Axis.COLUMN, d, meaning));
        }
        return slots;
    }

    private static Slot slot(String tensor, Axis axis, int length, String lengthMeaning) {
        return new Slot(new Member(tensor, axis), length, lengthMeaning);
    }

    // ---------------------------------------------------------------- scoring

    private double[] attentionScores(int l, MemberVectors vectors) {
        List<Slot> group = attentionSlots(l);
        if (group.isEmpty()) {
            return new double[0];
        }
        int hd = config.headDim();
        int kvHeads = config.layerKvHeads(l);
        double[] perChannel;
        if (settings.criterion() == Criterion.RANDOM) {
            perChannel = uniform(2L * l + 1, kvHeads * hd);
        } else {
            List<double[]> aligned = new ArrayList<>();
            for (Slot s : usedSlots(group)) {
                aligned.add(foldOntoKvChannels(fetch(vectors, s), kvHeads, config.groupSize(l), hd));
            }
            perChannel = reduce(aligned);
        }
        return sumHeadChannels(perChannel, hd);
    }

    private double[] channelScores(List<Slot> group, int channels, long stream, MemberVectors vectors) {
        if (group.isEmpty()) {
            return new double[0];
        }
        if (settings.criterion() == Criterion.RANDOM) {
            return uniform(stream, channels);
        }
        List<double[]> members = new ArrayList<>();
        for (Slot s : usedSlots(group)) {
            members.add(fetch(vectors, s));
        }
        return reduce(members);
    }

    /** A q/o vector of heads·hd values onto kv_heads·hd channels; k/v vectors (already that long) pass through. */
    private double[] foldOntoKvChannels(double[] v, int kvHeads, int nRep, int hd) {
        int kvChannels = kvHeads * hd;
        if (v.length == kvChannels) {
            return v;
        }
        double[] folded = new double[kvChannels];
        for (int queryHead = 0; queryHead < kvHeads * nRep; queryHead++) {
            for (int i = 0; i < hd; i++) {
                int queryChannel = queryHead * hd + i;
                int kvChannel = settings.gqaFold() == GqaFold.CORRECT
                        ? (queryHead / nRep) * hd + i
                        : queryChannel % kvChannels;
                folded[kvChannel] += v[queryChannel];
            }
        }
        return folded;
    }

    private double[] reduce(List<double[]> members) {
        double[] first = members.get(0);
        double[] out = first.clone();
        for (int k = 1; k < members.size(); k++) {
            double[] m = members.get(k);
            for (int i = 0; i < out.length; i++) {
                switch (settings.reduction()) {
                    case SUM, MEAN -> out[i] += m[i];
                    case MAX -> out[i] = Math.max(out[i], m[i]);
                    case PROD -> out[i] *= m[i];
                    case FIRST -> throw new IllegalStateException("FIRST reduces a single member");
                }
            }
        }
        if (settings.reduction() == GroupReduction.MEAN) {
            for (int i = 0; i < out.length; i++) {
                out[i] /= members.size();
            }
        }
        return out;
    }

    private static double[] sumHeadChannels(double[] perChannel, int hd) {
        double[] perHead = new double[perChannel.length / hd];
        for (int i = 0; i < perChannel.length; i++) {
            perHead[i / hd] += perChannel[i];
        }
        return perHead;
    }

    private double[] uniform(long stream, int count) {
        SplittableRandom random = new SplittableRandom(settings.seed() ^ (STREAM_SPREAD * stream));
        double[] draws = new double[count];
        for (int i = 0; i < count; i++) {
            draws[i] = random.nextDouble();
        }
        return draws;
    }

    private static double[] fetch(MemberVectors vectors, Slot slot) {
        double[] v = vectors.get(slot.member());
        if (v == null) {
            throw new IllegalArgumentException("no member vector for " + slot.member());
        }
        if (v.length != slot.length()) {
            throw new IllegalArgumentException("member vector for " + slot.member() + " has " + v.length
                    + " values, expected " + slot.length() + " (" + slot.lengthMeaning() + ")");
        }
        return v;
    }
}
