package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.StartProgress;
import io.jfscsi.mount.ClientLife.Shown;
import io.jfscsi.mount.MountActor.AddTarget;
import io.jfscsi.mount.MountActor.ClientDied;
import io.jfscsi.mount.MountActor.ClientStartFailed;
import io.jfscsi.mount.MountActor.ClientStarted;
import io.jfscsi.mount.MountActor.Command;
import io.jfscsi.mount.MountActor.RemoveTarget;
import io.jfscsi.mount.MountActor.RestartDue;
import io.jfscsi.mount.MountActor.StartProgressed;
import io.jfscsi.mount.MountActor.Stats;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The states of a {@link MountActor} without a client that serves: STARTING and RESTARTING (a start
 * is in flight) and BROKEN (the client died; a restart waits out its backoff). Publishes wait in
 * the stash in all of them, and are replayed in order once the client is ready; they are one file
 * apart from {@link ClientServing} only to keep each file short.
 */
final class ClientStarting {

  static final Object RESTART_TIMER = "restart";

  /**
   * A start in flight.
   *
   * @param restart whether a client ran before (RESTARTING) or this is the first (STARTING)
   * @param replaced the dead client this start replaces, if any
   * @param progress what the start waits on, as the runtime last said
   * @param brokenSince when the death of the client being recovered was seen
   */
  private record Start(
      boolean restart,
      Optional<RunningClient> replaced,
      Optional<StartProgress> progress,
      Optional<Instant> brokenSince) {

    ClientState state() {
      return restart ? ClientState.RESTARTING : ClientState.STARTING;
    }

    Start withProgress(StartProgress reported) {
      return new Start(restart, replaced, Optional.of(reported), brokenSince);
    }
  }

  private ClientStarting() {}

  /**
   * Starts a client, or adopts the one an earlier driver left running ({@code adopted}), after the
   * last stop of this key, even a failed one: the start clears what that stop left or says why.
   */
  static Behavior<Command> start(
      ClientLife life,
      Optional<RunningClient> adopted,
      Optional<RunningClient> replaced,
      Optional<Instant> brokenSince,
      String reason) {
    var start =
        new Start(
            life.restarts.tries() > 0 || replaced.isPresent(),
            replaced,
            Optional.empty(),
            brokenSince);
    life.enter(start.state(), reason);
    var self = life.ctx.getSelf();
    CompletionStage<RunningClient> starting =
        life.lastStop
            .exceptionally(stopFailed -> null)
            .thenCompose(
                stopped ->
                    life.runtime.start(
                        life.key,
                        life.volume,
                        adopted,
                        exit -> self.tell(new ClientDied(exit)),
                        reported -> self.tell(new StartProgressed(reported))));
    life.ctx.pipeToSelf(
        starting,
        (started, error) ->
            error == null ? new ClientStarted(started) : new ClientStartFailed(error));
    return starting(life, start);
  }

  private static Behavior<Command> starting(ClientLife life, Start start) {
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case AddTarget add -> {
                life.waiting.await(add, start.progress());
                yield Behaviors.same();
              }
              case RemoveTarget remove -> {
                // An unpublish needs no client, but must not overtake a waiting publish of its
                // target. A first start may still be adopting the targets of an earlier driver.
                if (!start.restart() || life.waiting.publishWaits(remove)) {
                  life.waiting.stash(remove);
                } else {
                  life.remove(remove, start.replaced());
                }
                yield Behaviors.same();
              }
              case Stats stats -> {
                life.stats(stats, start.restart());
                yield Behaviors.same();
              }
              case StartProgressed progressed -> progressed(life, start, progressed.progress());
              case ClientStarted started -> started(life, start, started.client());
              case ClientStartFailed failed -> startFailed(life, start, failed.cause());
              case ClientDied died -> {
                // The runtime may report the death of the client it is starting before the start
                // itself (onExit and the start's completion run on different threads): keep it.
                if (!start.replaced().map(c -> sameClient(c, died)).orElse(false)) {
                  life.waiting.stash(died);
                }
                yield Behaviors.same();
              }
              default ->
                  life.otherwise(
                      command, new Shown(start.state(), start.replaced(), start.progress()));
            });
  }

  static boolean sameClient(RunningClient client, ClientDied died) {
    return died.exit().client().handle().equals(client.handle());
  }

  private static Behavior<Command> progressed(
      ClientLife life, Start start, StartProgress reported) {
    if (!start.progress().equals(Optional.of(reported))) {
      life.log()
          .info(
              "volume {}: client {} is starting: {}",
              life.key.volumeId(),
              life.key,
              reported.description());
    }
    if (reported.stuck()) {
      Failure failure = life.waiting.stuckFailure(reported);
      life.waiting
          .take(c -> c instanceof AddTarget)
          .forEach(c -> life.waiting.answerEarly((AddTarget) c, failure));
    }
    return starting(life, start.withProgress(reported));
  }

  private static Behavior<Command> started(ClientLife life, Start start, RunningClient client) {
    boolean recovering = start.restart() || !life.targets.isEmpty();
    life.lastError = Optional.empty();
    life.enter(
        ClientState.READY, "client " + client.handle() + " is ready at " + client.mountPath());
    life.timers.cancel(ClientServing.CONTAINERS_TIMER);
    var serving = ClientServing.Serving.started(life, client);
    if (recovering) {
      Targets.Rebound result = life.targets.rebind(client.mountPath());
      result.dropped().forEach(life::tellDropped);
      result.error().ifPresent(e -> life.lastError = Optional.of(e));
      serving = ClientServing.retryContainersLater(life, serving, result.containersLeft());
    }
    start.brokenSince().ifPresent(since -> announceRecovery(life, since));
    if (!life.targets.isEmpty()) {
      life.deleteAt = Optional.empty(); // referenced again: no delayed exit
    }
    life.saveStarted(client);
    Behavior<Command> next = ClientServing.ready(life, serving);
    if (life.targets.isEmpty() && life.waiting.isEmpty()) {
      // A publish answered while this client started will be retried: leave it time to come.
      next =
          ClientDraining.beginExit(
              life,
              serving,
              life.retryExpected
                  ? "no target references the client yet; it waits for the retry of "
                      + "a publish answered while it started"
                  : "no target references the client",
              life.retryExpected ? life.settings.retryGrace() : Duration.ZERO);
    }
    life.retryExpected = false;
    return life.waiting.unstashAll(next);
  }

  private static void announceRecovery(ClientLife life, Instant brokenSince) {
    var recovered =
        new ClientRecovered(
            life.key.name(),
            life.key.volumeId(),
            Duration.between(brokenSince, life.now()),
            life.targets.names().size(),
            life.restarts.tries());
    life.log()
        .info(
            "volume {}: client {} recovered: {} targets served again {} ms "
                + "after its death was seen",
            life.key.volumeId(),
            life.key,
            recovered.targets(),
            recovered.took().toMillis());
    life.ctx.getSystem().eventStream().tell(new EventStream.Publish<>(recovered));
  }

  private static Behavior<Command> startFailed(ClientLife life, Start start, Throwable error) {
    Throwable cause = Failure.unwrap(error);
    Failure failure =
        cause instanceof Failure f
            ? f
            : new Failure(
                Failure.Code.UNAVAILABLE,
                "the JuiceFS client did not start: " + cause.getMessage(),
                cause);
    life.lastError = Optional.of(failure.getMessage());
    life.retryExpected = false;
    life.log()
        .error(
            "volume {}: client {} did not start: {}",
            life.key.volumeId(),
            life.key,
            failure.getMessage());
    if (life.targets.isEmpty()) {
      // Nobody depends on this client yet: fail the waiting publishes and go away.
      life.waiting.failAll(failure);
      return ClientDraining.giveUp(life, start.replaced(), "the client could not start");
    }
    life.waiting.failPublishes(failure);
    return life.waiting.unstashAll(scheduleRestart(life, start.replaced(), start.brokenSince()));
  }

  /** The client died (or did not start) while targets need it: restart it after the backoff. */
  static Behavior<Command> scheduleRestart(
      ClientLife life, Optional<RunningClient> dead, Optional<Instant> brokenSince) {
    Instant since = brokenSince.orElseGet(life::now);
    life.enter(ClientState.BROKEN, "restart in " + life.restarts.delay().toMillis() + " ms");
    life.timers.startSingleTimer(RESTART_TIMER, new RestartDue(), life.restarts.delay());
    life.restarts = life.restarts.next();
    return broken(life, dead, since);
  }

  private static Behavior<Command> broken(
      ClientLife life, Optional<RunningClient> dead, Instant since) {
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case AddTarget add -> {
                life.waiting.await(add, Optional.empty());
                yield Behaviors.same();
              }
              case RemoveTarget remove -> {
                if (life.waiting.publishWaits(remove)) {
                  life.waiting.stash(remove);
                } else if (life.remove(remove, dead)
                    && life.targets.isEmpty()
                    && life.waiting.isEmpty()) {
                  yield ClientDraining.giveUp(
                      life, dead, "the last reference was removed while the client was down");
                }
                yield Behaviors.same();
              }
              case Stats stats -> {
                life.stats(stats, true);
                yield Behaviors.same();
              }
              case RestartDue due ->
                  start(
                      life,
                      Optional.empty(),
                      dead,
                      Optional.of(since),
                      "restart " + life.restarts.tries() + " after a crash");
              default -> life.otherwise(command, Shown.of(ClientState.BROKEN, dead));
            });
  }
}
