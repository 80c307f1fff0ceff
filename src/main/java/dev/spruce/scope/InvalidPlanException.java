package dev.spruce.scope;

/** Plan settings, scores or a plan file that cannot produce a valid plan; the message says what and why. */
public class InvalidPlanException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidPlanException(String message) {
        super(message);
    }

    public InvalidPlanException(String message, Throwable cause) {
        super(message, cause);
    }
}
