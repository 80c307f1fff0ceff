package dev.spruce.train;

/**
 * The precision of what crosses the network each step: parameter values broadcast to tasks and gradient partials
 * sent up the reduction. A model that computes in float32 or less gains nothing from float64 traffic (its leaves
 * are rounded to float32 on arrival), so it moves half the bytes; a float64 model keeps float64 so distributed
 * training stays exact against a float64 reference. The master copy and AdamW stay float64 on the driver either way.
 */
enum Traffic {
    FLOAT32(Float.BYTES),
    FLOAT64(Double.BYTES);

    private final int bytes;

    Traffic(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per value on the wire. */
    int bytes() {
        return bytes;
    }

    /** The traffic a model computing in {@code dataType} (a {@code ModelRef} dtype name) needs. */
    static Traffic forModel(String dataType) {
        return "float64".equals(dataType) ? FLOAT64 : FLOAT32;
    }

    String label() {
        return this == FLOAT32 ? "float32" : "float64";
    }
}
