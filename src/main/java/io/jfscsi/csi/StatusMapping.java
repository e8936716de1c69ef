package io.jfscsi.csi;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.Failure;
import java.util.concurrent.TimeoutException;

/**
 * Turns what the actors answered into the gRPC status the CSI specification names. Messages that
 * quote input do so through {@link io.jfscsi.Quoted}; the cut here is the last bound, so that no
 * answer (and no event kubelet makes of it) carries more than a few lines.
 */
final class StatusMapping {
  private StatusMapping() {}

  /** The longest status description sent. */
  static final int MAX_DESCRIPTION = 2048;

  static StatusRuntimeException toStatus(Throwable error) {
    Throwable cause = Failure.unwrap(error);
    if (cause instanceof StatusRuntimeException s) {
      return s;
    }
    if (cause instanceof Failure f) {
      return Status.fromCode(Status.Code.valueOf(f.code().name()))
          .withDescription(bounded(f.getMessage()))
          .asRuntimeException();
    }
    if (cause instanceof TimeoutException) {
      return Status.DEADLINE_EXCEEDED
          .withDescription("the operation is still running; retry later")
          .asRuntimeException();
    }
    return Status.INTERNAL
        .withDescription(bounded(String.valueOf(cause.getMessage())))
        .asRuntimeException();
  }

  static String bounded(String description) {
    if (description == null || description.length() <= MAX_DESCRIPTION) {
      return description;
    }
    String cut = "... (message cut; " + description.length() + " characters in all)";
    int keep = MAX_DESCRIPTION - cut.length();
    if (Character.isHighSurrogate(description.charAt(keep - 1))) {
      keep--; // never half a character
    }
    return description.substring(0, keep) + cut;
  }
}
