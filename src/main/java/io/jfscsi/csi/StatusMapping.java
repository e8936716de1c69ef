package io.jfscsi.csi;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.Failure;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

/** Turns what the actors answered into the gRPC status the CSI specification names. */
final class StatusMapping {
  private StatusMapping() {}

  static StatusRuntimeException toStatus(Throwable error) {
    Throwable cause = error;
    while ((cause instanceof CompletionException || cause instanceof java.util.concurrent.ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof StatusRuntimeException s) {
      return s;
    }
    if (cause instanceof Failure f) {
      return Status.fromCode(Status.Code.valueOf(f.code().name()))
          .withDescription(f.getMessage()).asRuntimeException();
    }
    if (cause instanceof TimeoutException) {
      return Status.DEADLINE_EXCEEDED
          .withDescription("the operation is still running; retry later").asRuntimeException();
    }
    return Status.INTERNAL.withDescription(String.valueOf(cause.getMessage()))
        .asRuntimeException();
  }
}
