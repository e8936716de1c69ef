package io.jfscsi.management;

import io.jfscsi.Asks;
import io.jfscsi.Failure;
import io.jfscsi.mount.ClientView;
import io.jfscsi.mount.MountActor;
import io.jfscsi.mount.NodeGuardian;
import java.time.Duration;
import java.util.Optional;
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
    return Asks.<NodeGuardian.Command, java.util.List<ActorRef<MountActor.Command>>>ask(
            guardian, NodeGuardian.ListClients::new, ClientViews.ASK_TIMEOUT, scheduler)
        .thenCompose(refs -> find(refs, scheduler, pod, 0))
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
    boolean refused = cause instanceof Failure f && f.code() == Failure.Code.FAILED_PRECONDITION;
    return new Outcome(refused ? 412 : 503, false, ClientViews.message(cause));
  }

  /** The actor among {@code refs} (from {@code at} on) whose client runs in {@code pod}. */
  private static CompletionStage<Optional<ActorRef<MountActor.Command>>> find(
      java.util.List<ActorRef<MountActor.Command>> refs, Scheduler scheduler, String pod, int at) {
    if (at >= refs.size()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    ActorRef<MountActor.Command> ref = refs.get(at);
    return Asks.<MountActor.Command, ClientView>ask(
            ref, MountActor.Describe::new, ClientViews.ASK_TIMEOUT, scheduler)
        .thenApply(view -> view.handle().filter(pod::equals).map(h -> ref))
        .exceptionally(e -> Optional.empty())
        .thenCompose(
            found ->
                found.isPresent()
                    ? CompletableFuture.completedFuture(found)
                    : find(refs, scheduler, pod, at + 1));
  }
}
