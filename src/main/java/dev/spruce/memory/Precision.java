package dev.spruce.memory;

import java.util.Locale;

/**
 * A compute dtype and its width; {@code auto} means float16 on a GPU and float32 on the CPU. bfloat16 is parsed for
 * estimates only (the same 2 bytes as float16): jobs refuse it, since DJL cannot make bfloat16 arrays (P2).
 */
public enum Precision {
    FLOAT64("float64", 8),
    FLOAT32("float32", 4),
    FLOAT16("float16", 2),
    BFLOAT16("bfloat16", 2);

    private final String label;
    private final int bytes;

    Precision(String label, int bytes) {
        this.label = label;
        this.bytes = bytes;
    }

    /** Parses a configured dtype; {@code setting} names the option in the error. */
    public static Precision of(String dtype, boolean gpu, String setting) {
        String d = dtype == null ? "" : dtype.trim().toLowerCase(Locale.ROOT);
        if (d.equals("auto")) {
            return gpu ? FLOAT16 : FLOAT32; // as ExecutorModels.dataType: DJL cannot make bfloat16 arrays (P2)
        }
        for (Precision p : values()) {
            if (p.label.equals(d)) {
                return p;
            }
        }
        throw new IllegalArgumentException(setting + " = '" + dtype + "': expected float64, float32, float16, "
                + "bfloat16 or auto");
    }

    public int bytes() {
        return bytes;
    }

    public String label() {
        return label;
    }

    /**
     * The width of what the model keeps in at least float32: RMSNorm, attention scores and softmax, log-softmax
     * of the logits, and the importance sums G and Q (float64 for a float64 model, float32 otherwise).
     */
    public int wide() {
        return this == FLOAT64 ? 8 : 4;
    }

    /** Whether arrays are converted to {@link #wide()} and back (half precision). */
    public boolean half() {
        return bytes < 4;
    }
}
