package dev.spruce.io;

/** A model file that is not what spruce expects; the message names the file, the field and the problem. */
public class InvalidModelException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidModelException(String message) {
        super(message);
    }

    public InvalidModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
