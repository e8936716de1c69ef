package io.jfscsi.csi;

import io.jfscsi.Failure;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** The answer to every RPC this driver does not offer. */
final class Unimplemented {
  private Unimplemented() {}

  static <T> CompletionStage<T> call(String rpc) {
    return CompletableFuture.failedFuture(
        new Failure(Failure.Code.UNIMPLEMENTED, rpc + " is not implemented by this driver"));
  }
}
