package io.jfscsi;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * A refusal or fault that the CSI edge turns into a gRPC status. The domain layers speak in these
 * codes so that they do not depend on gRPC; the message is shown to the user as is and so must
 * never contain a secret value.
 */
public final class Failure extends RuntimeException {

  /** The subset of gRPC codes the CSI specification names for this driver's calls. */
  public enum Code {
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    FAILED_PRECONDITION,
    OUT_OF_RANGE,
    ABORTED,
    UNAVAILABLE,
    DEADLINE_EXCEEDED,
    UNIMPLEMENTED,
    INTERNAL
  }

  private final Code code;

  public Failure(Code code, String message) {
    super(message, null, false, false);
    this.code = code;
  }

  public Failure(Code code, String message, Throwable cause) {
    super(message, cause, false, false);
    this.code = code;
  }

  public Code code() {
    return code;
  }

  public static Failure invalid(String message) {
    return new Failure(Code.INVALID_ARGUMENT, message);
  }

  public static Failure notFound(String message) {
    return new Failure(Code.NOT_FOUND, message);
  }

  public static Failure alreadyExists(String message) {
    return new Failure(Code.ALREADY_EXISTS, message);
  }

  public static Failure precondition(String message) {
    return new Failure(Code.FAILED_PRECONDITION, message);
  }

  public static Failure internal(String message, Throwable cause) {
    return new Failure(Code.INTERNAL, message, cause);
  }

  @Override
  public String toString() {
    return code + ": " + getMessage();
  }

  /** The error under the wrappers that futures add (CompletionException, ExecutionException). */
  public static Throwable unwrap(Throwable error) {
    Throwable cause = error;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }
}
