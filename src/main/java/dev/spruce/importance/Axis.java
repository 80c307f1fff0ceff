package dev.spruce.importance;

/**
 * Which channels of a weight tensor {@code W[rows][cols]} (PyTorch {@code W[out][in]}, row-major) a member
 * vector scores (llm-pruner.md §2.4).
 */
public enum Axis {
    /** One value per output row, reduced over the input axis: q/k/v/gate/up in head and MLP groups. */
    ROW,
    /** One value per input column, reduced over the output axis: o/down, and embeddings over the vocabulary. */
    COLUMN,
    /** One value per entry, nothing reduced: RMSNorm weights in the hidden-channel group. */
    ENTRY;

    /** The member vector's length for a tensor of {@code rows x cols}. */
    public int length(int rows, int cols) {
        return switch (this) {
            case ROW -> rows;
            case COLUMN -> cols;
            case ENTRY -> rows * cols;
        };
    }
}
