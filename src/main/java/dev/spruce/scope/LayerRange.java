package dev.spruce.scope;

import dev.spruce.model.LlamaConfig;
import java.io.Serializable;

/** Decoder layers {@code start <= l < end} (end exclusive, as Python's {@code range} in the reference). */
public record LayerRange(int start, int end) implements Serializable {

    public LayerRange {
        if (start < 0) {
            throw new InvalidPlanException("layer range " + start + ":" + end + ": start must be >= 0");
        }
        if (start > end) {
            throw new InvalidPlanException("layer range " + start + ":" + end + ": start " + start
                    + " is after end " + end + " (ranges are start:end with end exclusive)");
        }
    }

    /** Parses {@code START:END}, for example {@code 4:30} for layers 4..29. */
    public static LayerRange parse(String text) {
        String[] parts = text.trim().split(":", -1);
        if (parts.length != 2) {
            throw new InvalidPlanException("layer range '" + text + "' must be START:END, for example 4:30");
        }
        try {
            return new LayerRange(Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim()));
        } catch (NumberFormatException e) {
            throw new InvalidPlanException("layer range '" + text + "' must be START:END with integers, "
                    + "for example 4:30", e);
        }
    }

    /** Every layer of a model with {@code numLayers} decoder layers. */
    public static LayerRange all(int numLayers) {
        return new LayerRange(0, numLayers);
    }

    /** No layer. */
    public static LayerRange none() {
        return new LayerRange(0, 0);
    }

    public boolean contains(int layer) {
        return layer >= start && layer < end;
    }

    public int size() {
        return end - start;
    }

    /** Fails unless every layer of the range exists in {@code config}; {@code what} names the range. */
    public void requireWithin(LlamaConfig config, String what) {
        if (end > config.numHiddenLayers()) {
            throw new InvalidPlanException(what + " layer range " + this + " is outside the model: num_hidden_layers = "
                    + config.numHiddenLayers() + ", so the range must satisfy 0 <= start <= end <= "
                    + config.numHiddenLayers() + " (end exclusive)");
        }
    }

    @Override
    public String toString() {
        return start + ":" + end;
    }
}
