package io.jfscsi.csi;

import io.jfscsi.Failure;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** The answer to every RPC this driver (or the bench's bare plugin) does not offer. */
public final class Unimplemented {
  private Unimplemented() {}

  public static <T> CompletionStage<T> call(String rpc) {
    return CompletableFuture.failedFuture(
        new Failure(Failure.Code.UNIMPLEMENTED, rpc + " is not implemented by this driver"));
  }
}
