package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.client.RunningClient;
import io.jfscsi.mount.ClientLife.Shown;
import io.jfscsi.mount.MountActor.AddTarget;
import io.jfscsi.mount.MountActor.Command;
import io.jfscsi.mount.MountActor.RemoveTarget;
import io.jfscsi.mount.MountActor.Retired;
import io.jfscsi.mount.MountActor.Stats;
import io.jfscsi.mount.MountActor.Stop;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The last state of a {@link MountActor}, STOPPING: entered from DRAINING once the guardian let the
 * client go. Calls that still arrive wait, and are failed (to be retried with a new actor) when the
 * actor ends.
 */
final class ClientStopping {

  private ClientStopping() {}

  /**
   * Stops the client, removes its record and cleans its cache, in that order, on the runtime's
   * threads: a stop can take the client's whole grace period, and this actor's thread is shared
   * with the mount actors of other volumes. The guardian holds the calls for this key until the
   * actor has ended.
   */
  static Behavior<Command> stop(ClientLife life, Optional<RunningClient> client) {
    life.enter(ClientState.STOPPING, "no references and no delay left");
    life.timers.cancelAll();
    // A dead client is stopped too (idempotent): that clears the mount point it left.
    Optional<RunningClient> last = client.or(() -> life.deadClient);
    CompletionStage<Void> stopped =
        last.isPresent() ? life.stopClient(last.get()) : life.lastStop.exceptionally(e -> null);
    CompletionStage<Void> retired =
        stopped
            .thenRun(() -> life.runtime.remove(life.key))
            .thenCompose(
                removed ->
                    last.map(c -> c.exit().cleanCache(life.volume)).orElse(life.volume.cleanCache())
                        ? life.runtime.cleanCache(life.key, life.volume)
                        : CompletableFuture.completedFuture(null));
    life.ctx.pipeToSelf(retired, (done, error) -> new Retired(Optional.ofNullable(error)));
    return stopping(life, client);
  }

  private static Behavior<Command> retired(ClientLife life, Optional<Throwable> failure) {
    failure.ifPresent(
        e ->
            life.log()
                .error(
                    "volume {}: client {} was not stopped cleanly: {}; a record left behind is "
                        + "cleaned up by the next driver",
                    life.key.volumeId(),
                    life.key,
                    Failure.unwrap(e).getMessage()));
    // Anything still waiting was routed here before the guardian let go of this client.
    life.waiting.failAll(
        new Failure(
            Failure.Code.ABORTED,
            "the client of volume " + life.key.volumeId() + " was stopping; retry"));
    life.log().info("volume {}: client {} stopped", life.key.volumeId(), life.key);
    return Behaviors.stopped();
  }

  private static Behavior<Command> stopping(ClientLife life, Optional<RunningClient> client) {
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case AddTarget add -> {
                life.waiting.await(add, Optional.empty());
                yield Behaviors.same();
              }
              case RemoveTarget remove -> {
                life.waiting.stash(remove);
                yield Behaviors.same();
              }
              case Stats stats -> {
                life.stats(stats, false);
                yield Behaviors.same();
              }
              case Stop stop -> Behaviors.same();
              case Retired retired -> retired(life, retired.failure());
              default -> life.otherwise(command, Shown.of(ClientState.STOPPING, client));
            });
  }
}
