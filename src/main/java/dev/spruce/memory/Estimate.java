package dev.spruce.memory;

import java.util.List;

/**
 * What one stage needs on one executor (one GPU of it), term by term, before the safety margin.
 *
 * @param stage  importance, recover or evaluate
 * @param tasks  tasks that share the executor's one resident model (per-task terms are already multiplied)
 */
public record Estimate(String stage, List<Term> terms, int tasks) {
    public Estimate {
        terms = List.copyOf(terms);
    }

    public long bytes(Term.Part part) {
        return terms.stream().filter(t -> t.part() == part).mapToLong(Term::bytes).sum();
    }

    public long total() {
        return terms.stream().mapToLong(Term::bytes).sum();
    }

    /** The term of that name, or 0 when the stage has none. */
    public long term(String name) {
        return terms.stream().filter(t -> t.name().equals(name)).mapToLong(Term::bytes).sum();
    }
}
