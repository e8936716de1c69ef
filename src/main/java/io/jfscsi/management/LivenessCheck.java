package io.jfscsi.management;

import io.jfscsi.Asks;
import io.jfscsi.mount.NodeGuardian;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;

/**
 * Alive while the actor system runs and, with the node role, while the node guardian answers a
 * ping: every node call goes through the guardian, so a driver whose guardian is gone or stuck
 * serves nothing and only a restart helps. Readiness (the CSI Probe) covers what a restart would
 * not fix, such as a missing client binary.
 */
public final class LivenessCheck implements Supplier<CompletionStage<Boolean>> {

  /** Below the health checks' own timeout, so that the reason is ours. */
  static final Duration PING_TIMEOUT = ManagementSettings.CHECK_TIMEOUT.minusSeconds(1);

  private final ActorSystem system;

  public LivenessCheck(ActorSystem system) {
    this.system = system;
  }

  @Override
  public CompletionStage<Boolean> get() {
    if (system.whenTerminated().isCompleted()) {
      return CompletableFuture.completedFuture(false);
    }
    ActorRef<NodeGuardian.Command> guardian = ManagementContext.get(system).hooks().guardian();
    if (guardian == null) {
      return CompletableFuture.completedFuture(true);
    }
    return Asks.<NodeGuardian.Command, List<?>>ask(
            guardian,
            reply -> new NodeGuardian.ListClients(reply.unsafeUpcast()),
            PING_TIMEOUT,
            Adapter.toTyped(system).scheduler())
        .handle(
            (clients, error) -> {
              if (error != null) {
                throw new ReadinessCheck.NotReady(
                    "the node guardian did not answer a ping within "
                        + PING_TIMEOUT.toSeconds()
                        + " s: no node call can be served; restart the "
                        + "driver (see docs/troubleshooting.md)");
              }
              return true;
            });
  }
}
