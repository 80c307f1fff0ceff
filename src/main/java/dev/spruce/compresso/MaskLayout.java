package dev.spruce.compresso;

import dev.spruce.model.LlamaConfig;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The mask vectors of a model under given settings, named as trained parameters: {@code compresso.heads.<l>}
 * [kv groups of layer l] (a kv group owns its n_rep query heads and their o columns, LLM-Pruner's unit; on MHA
 * a group is a head), {@code compresso.ffn.<l>} [intermediate size of layer l], {@code compresso.hidden}
 * [hidden size]; and the two Lagrange multipliers {@code compresso.lambda_1}, {@code compresso.lambda_2} [1].
 * Layers outside the band, or with no heads / channels left, get no vector.
 */
public final class MaskLayout implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final String PREFIX = "compresso.";
    public static final String HIDDEN = PREFIX + "hidden";
    public static final String LAMBDA_1 = PREFIX + "lambda_1";
    public static final String LAMBDA_2 = PREFIX + "lambda_2";

    private final LlamaConfig config;
    private final CompressoSettings settings;
    private final Map<String, Integer> sizes = new LinkedHashMap<>();

    public MaskLayout(LlamaConfig config, CompressoSettings settings) {
        settings.layers().requireWithin(config, "compresso.layers");
        this.config = config;
        this.settings = settings;
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            if (!settings.layers().contains(l)) {
                continue;
            }
            if (settings.heads() && config.layerKvHeads(l) > 0) {
                sizes.put(heads(l), config.layerKvHeads(l));
            }
            if (settings.ffn() && config.layerIntermediate(l) > 0) {
                sizes.put(ffn(l), config.layerIntermediate(l));
            }
        }
        if (settings.hidden()) {
            sizes.put(HIDDEN, config.hiddenSize());
        }
    }

    public static String heads(int layer) {
        return PREFIX + "heads." + layer;
    }

    public static String ffn(int layer) {
        return PREFIX + "ffn." + layer;
    }

    /** The layer of a {@code compresso.heads.<l>} vector, or -1 for any other name. */
    public static int headsLayer(String name) {
        return layerAfter(name, PREFIX + "heads.");
    }

    /** The layer of a {@code compresso.ffn.<l>} vector, or -1 for any other name. */
    public static int ffnLayer(String name) {
        return layerAfter(name, PREFIX + "ffn.");
    }

    private static int layerAfter(String name, String prefix) {
        return name.startsWith(prefix) ? Integer.parseInt(name.substring(prefix.length())) : -1;
    }

    public static boolean isMultiplier(String name) {
        return name.equals(LAMBDA_1) || name.equals(LAMBDA_2);
    }

    public static boolean isMask(String name) {
        return name.startsWith(PREFIX) && !isMultiplier(name);
    }

    public LlamaConfig config() {
        return config;
    }

    public CompressoSettings settings() {
        return settings;
    }

    /** Mask vector names and sizes, in a fixed order (layers ascending, heads before FFN, hidden last). */
    public Map<String, Integer> masks() {
        return java.util.Collections.unmodifiableMap(sizes);
    }

    /** The index of a mask vector in {@link #masks()}: part of its noise seed, so every vector draws its own. */
    public int index(String mask) {
        return new ArrayList<>(sizes.keySet()).indexOf(mask);
    }

    public List<String> names() {
        return List.copyOf(sizes.keySet());
    }

    /** Mask logits at their start: heads and hidden at {@code initialLogit}, FFN from the drop rate, std 0.01, clamped. */
    public Map<String, double[]> initialLogits(long seed) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed ^ 0x6C30_4D41_534BL);
        Map<String, double[]> out = new LinkedHashMap<>();
        double ffnMean = Math.log(1 - settings.dropRateInit()) - Math.log(settings.dropRateInit());
        sizes.forEach((name, n) -> {
            double mean = ffnLayer(name) >= 0 ? ffnMean : settings.initialLogit();
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = mean + 0.01 * gaussian(random);
            }
            HardConcrete.clamp(v);
            out.put(name, v);
        });
        return out;
    }

    private static double gaussian(java.util.SplittableRandom random) {
        double u1 = 1 - random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
