package dev.spruce.memory;

/** A stage that would not fit its executors; the message names the terms, the budget and what would fit. */
public final class MemoryPlanException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public MemoryPlanException(String message) {
        super(message);
    }
}
