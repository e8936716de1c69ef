package io.jfscsi.management;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * The driver's readiness for pekko-management: the CSI socket is served and the CSI Probe would
 * answer ready. A check that is not ready fails with the reason, which /ready shows. A refusal of
 * kubelet's plugin registration (node role, {@code kubelet-registration}) makes it not ready too.
 * (In cluster mode the Kubernetes runtime adds its own check: the informer has synced.)
 */
public final class ReadinessCheck implements Supplier<CompletionStage<Boolean>> {

  private final ManagementContext context;

  public ReadinessCheck(ActorSystem system) {
    this.context = ManagementContext.get(system);
  }

  @Override
  public CompletionStage<Boolean> get() {
    if (!context.csiServing()) {
      return CompletableFuture.failedFuture(new NotReady("the CSI socket is not served"));
    }
    var refusal = context.registrationRefusal();
    if (refusal.isPresent()) {
      return CompletableFuture.failedFuture(
          new NotReady("kubelet refused the plugin " + "registration: " + refusal.get()));
    }
    return context
        .hooks()
        .probe()
        .get()
        .handle(
            (ready, error) -> {
              if (error != null) {
                throw new NotReady("the CSI Probe failed: " + ClientViews.message(error));
              }
              if (!ready) {
                throw new NotReady(
                    "the CSI Probe answers not ready (the log line "
                        + "'local runtime not ready' says which requirement is missing)");
              }
              return true;
            });
  }

  /** Why the driver is not ready. */
  static final class NotReady extends RuntimeException {
    NotReady(String reason) {
      super(reason, null, false, false);
    }
  }
}
