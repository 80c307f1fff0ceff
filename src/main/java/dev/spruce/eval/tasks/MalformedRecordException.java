package dev.spruce.eval.tasks;

/** A record that does not fit its task's layout; the loader turns it into a {@link SkippedRecord}. */
final class MalformedRecordException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    MalformedRecordException(String reason) {
        super(reason);
    }
}
