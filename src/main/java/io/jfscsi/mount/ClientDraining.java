package io.jfscsi.mount;

import io.jfscsi.client.RecordChange.DeleteAtChanged;
import io.jfscsi.client.RunningClient;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.mount.ClientLife.Shown;
import io.jfscsi.mount.ClientServing.Serving;
import io.jfscsi.mount.MountActor.AddTarget;
import io.jfscsi.mount.MountActor.ClientDied;
import io.jfscsi.mount.MountActor.Command;
import io.jfscsi.mount.MountActor.ExitDue;
import io.jfscsi.mount.MountActor.Idle;
import io.jfscsi.mount.MountActor.RemoveTarget;
import io.jfscsi.mount.MountActor.Stats;
import io.jfscsi.mount.MountActor.Stop;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The DRAINING state of a {@link MountActor}, and the ways into it: no target references the
 * client, which waits for its delayed exit ({@link DelayedExit}), or has died or never started and
 * may go; the guardian's {@link Stop} then leads to {@link ClientStopping}, and a new reference
 * back to {@link ClientServing} (or to {@link ClientStarting} when no client runs).
 */
final class ClientDraining {

  static final Object EXIT_TIMER = "delayed-exit";

  private ClientDraining() {}

  /**
   * No target references the client: it waits for its delayed exit ({@code serving} present), or it
   * died or never started ({@code serving} empty) and a new reference starts it again.
   */
  private static Behavior<Command> draining(ClientLife life, Optional<Serving> serving) {
    Optional<RunningClient> client = serving.map(Serving::client);
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case AddTarget add when serving.isPresent() ->
                  ClientServing.add(life, serving.get(), add, true);
              case AddTarget add -> {
                life.waiting.await(add, Optional.empty());
                yield ClientStarting.start(
                    life,
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    "a new reference arrived");
              }
              case RemoveTarget remove -> {
                if (life.remove(remove, client) && life.targets.isEmpty()) {
                  // Idle again: the parent may have taken this actor back (a Stop answered
                  // InUse) since the last report; a report too many finds it stopping already.
                  idleIfDue(life);
                }
                yield Behaviors.same();
              }
              case Stats stats -> {
                life.stats(stats, false);
                yield Behaviors.same();
              }
              case ClientDied died when serving.isPresent() ->
                  ClientServing.died(life, serving.get(), died);
              case ExitDue due -> {
                if (life.deleteAt.isPresent() && life.now().isBefore(life.deleteAt.get())) {
                  startExitTimer(life); // one step of a wait longer than the scheduler holds
                } else {
                  idleIfDue(life);
                }
                yield Behaviors.same();
              }
              case Stop stop when idle(life) -> ClientStopping.stop(life, client);
              default -> life.otherwise(command, Shown.of(ClientState.DRAINING, client));
            });
  }

  /**
   * No reference needs the dead (or never started) client: no restart, no delayed exit; the parent
   * may stop this actor, which then lets the runtime clean up what the client left.
   */
  static Behavior<Command> giveUp(ClientLife life, Optional<RunningClient> dead, String reason) {
    life.timers.cancel(ClientStarting.RESTART_TIMER);
    life.timers.cancel(EXIT_TIMER);
    dead.ifPresent(c -> life.deadClient = Optional.of(c));
    life.enter(ClientState.DRAINING, reason);
    life.parent.tell(new Idle(life.key));
    return draining(life, Optional.empty());
  }

  /**
   * The last reference is gone: exit, at once or after the delete delay (at least {@code atLeast}).
   */
  static Behavior<Command> beginExit(
      ClientLife life, Serving serving, String reason, Duration atLeast) {
    Optional<Instant> at =
        DelayedExit.exitTime(
            serving.client().exit().deleteDelay(life.volume), atLeast, life.deleteAt, life.now());
    if (at.isEmpty()) {
      life.enter(ClientState.DRAINING, reason);
      life.parent.tell(new Idle(life.key));
      return draining(life, Optional.of(serving));
    }
    life.deleteAt
        .filter(recorded -> recorded.isAfter(at.get()))
        .ifPresent(
            recorded ->
                life.log()
                    .error(
                        "volume {}: client {} has a recorded exit time {} beyond the "
                            + "longest delete delay ({} days); it exits at {} instead",
                        life.key.volumeId(),
                        life.key,
                        recorded,
                        VolumeSettings.MAX_DELETE_DELAY.toDays(),
                        at.get()));
    life.deleteAt = at;
    life.runtime.record(new DeleteAtChanged(life.key, Optional.of(serving.client()), at));
    life.enter(ClientState.DRAINING, reason + "; delayed exit at " + at.get());
    startExitTimer(life);
    return draining(life, Optional.of(serving));
  }

  private static void startExitTimer(ClientLife life) {
    life.timers.startSingleTimer(
        EXIT_TIMER, new ExitDue(), DelayedExit.nextStep(life.now(), life.deleteAt.orElseThrow()));
  }

  static Behavior<Command> cancelExit(ClientLife life, Serving serving, String reason) {
    life.timers.cancel(EXIT_TIMER);
    life.deleteAt = Optional.empty();
    life.runtime.record(
        new DeleteAtChanged(life.key, Optional.of(serving.client()), Optional.empty()));
    life.enter(ClientState.READY, reason + "; delayed exit cancelled");
    return ClientServing.ready(life, serving);
  }

  /** Nothing references the client, nothing waits for it and no delayed exit is pending. */
  private static boolean idle(ClientLife life) {
    return life.targets.isEmpty()
        && life.waiting.isEmpty()
        && !life.timers.isTimerActive(EXIT_TIMER);
  }

  /** Tells the parent this client may go, unless a delayed exit is still running. */
  static void idleIfDue(ClientLife life) {
    if (idle(life)) {
      life.parent.tell(new Idle(life.key));
    }
  }
}
