package dev.spruce.memory;

/**
 * One named part of an estimate, in bytes per executor (per GPU on a GPU executor).
 *
 * @param part    where the bytes live: libtorch memory (the GPU, or native memory on a CPU executor) or the JVM heap
 * @param formula how the bytes were counted, in the notation of docs/MEMORY.md
 */
public record Term(String name, Part part, long bytes, String formula) {
    /** Where a term's bytes are allocated. */
    public enum Part {
        /** libtorch tensors: device memory of the GPU, or native (off-heap) memory on a CPU executor. */
        TENSORS,
        /** Java arrays on the executor JVM's heap. */
        HEAP
    }
}
