package io.jfscsi.management;

import io.jfscsi.Asks;
import io.jfscsi.Failure;
import io.jfscsi.mount.ClientView;
import io.jfscsi.mount.MountActor;
import io.jfscsi.mount.NodeGuardian;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;

/**
 * A smooth upgrade asked through the management HTTP server: the mount actor whose client runs in
 * the named Mount Pod is found among the guardian's (each describes itself) and asked to {@link
 * MountActor.Upgrade}; the answer says what happened or why not.
 */
public final class ClientUpgrades {
  private ClientUpgrades() {}

  /**
   * Long enough for the old pod to go (its grace + 20 s) and the new one to become ready
   * (kubernetes.pod-ready-timeout, 300 s by default).
   */
  static final Duration UPGRADE_TIMEOUT = Duration.ofMinutes(10);

  /** The HTTP status and text of an upgrade's answer. */
  public record Outcome(int status, boolean done, String message) {}

  public static CompletionStage<Outcome> upgrade(
      ActorRef<NodeGuardian.Command> guardian, Scheduler scheduler, String pod) {
    if (guardian == null) {
      return CompletableFuture.completedFuture(
          new Outcome(404, false, "this driver has no node role: it runs no Mount Pod"));
    }
    // Every client describes itself at once (ClientViews); the one running in the pod is asked.
    return ClientViews.described(guardian, scheduler)
        .thenApply(
            clients ->
                clients.stream()
                    .filter(
                        c -> c.view().flatMap(ClientView::handle).filter(pod::equals).isPresent())
                    .map(ClientViews.Described::actor)
                    .findFirst())
        .thenCompose(
            actor ->
                actor.isEmpty()
                    ? CompletableFuture.completedFuture(
                        new Outcome(404, false, "no client of this node runs in Mount Pod " + pod))
                    : Asks.<MountActor.Command, String>askWithStatus(
                            actor.get(), MountActor.Upgrade::new, UPGRADE_TIMEOUT, scheduler)
                        .thenApply(done -> new Outcome(200, true, done))
                        .exceptionally(ClientUpgrades::failed));
  }

  private static Outcome failed(Throwable error) {
    Throwable cause = Failure.unwrap(error);
    return new Outcome(refused(cause) ? 412 : 503, false, ClientViews.message(cause));
  }

  /** Whether an upgrade's failure {@code cause} is a refusal: nothing was changed. */
  static boolean refused(Throwable cause) {
    return cause instanceof Failure f && f.code() == Failure.Code.FAILED_PRECONDITION;
  }
}
