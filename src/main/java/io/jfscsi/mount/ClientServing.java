package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.RecordChange.TargetAdded;
import io.jfscsi.client.RecordChange.TargetRemoved;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.MountState;
import io.jfscsi.mount.ClientLife.Shown;
import io.jfscsi.mount.MountActor.AddTarget;
import io.jfscsi.mount.MountActor.CheckReferences;
import io.jfscsi.mount.MountActor.ClientDied;
import io.jfscsi.mount.MountActor.Command;
import io.jfscsi.mount.MountActor.ContainersDue;
import io.jfscsi.mount.MountActor.HungClientStopped;
import io.jfscsi.mount.MountActor.RemoveTarget;
import io.jfscsi.mount.MountActor.Stats;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

/**
 * The READY state of a {@link MountActor}: targets are bound from a client that serves, whose
 * health the reference check watches. Publishes and unpublishes are handled here; the last
 * unpublish leads to {@link ClientDraining}, a death to {@link ClientStarting}.
 */
final class ClientServing {

  static final Object CONTAINERS_TIMER = "container-recovery";
  private static final Object HUNG_TIMER = "hung-confirmation";

  /**
   * A client that serves, and what only a serving client has.
   *
   * @param readyAt when it became ready; its restart backoff is forgiven once it has run a while
   * @param unresponsiveSince when a stats call found it not answering (a hung or stopped process:
   *     the call waited out its deadline). Later stats calls are answered from this at once instead
   *     of each waiting out a deadline of its own in this mailbox, ahead of the reference check
   *     that restarts such a client.
   * @param staleAtCheck the client if the last check found its mount point dead, to be confirmed by
   *     the next
   * @param containers the retries of the containers whose recovery failed
   */
  record Serving(
      RunningClient client,
      Instant readyAt,
      Optional<Instant> unresponsiveSince,
      Optional<RunningClient> staleAtCheck,
      Backoff containers) {

    static Serving started(ClientLife life, RunningClient client) {
      return new Serving(
          client,
          life.now(),
          Optional.empty(),
          Optional.empty(),
          Backoff.between(life.settings.restartMinBackoff(), life.settings.restartMaxBackoff()));
    }

    Serving answering() {
      return new Serving(client, readyAt, Optional.empty(), Optional.empty(), containers);
    }

    Serving unresponsive(Instant since) {
      return new Serving(client, readyAt, Optional.of(since), staleAtCheck, containers);
    }

    Serving foundStale() {
      return new Serving(client, readyAt, unresponsiveSince, Optional.of(client), containers);
    }

    Serving containersRetried(Backoff next) {
      return new Serving(client, readyAt, unresponsiveSince, staleAtCheck, next);
    }
  }

  private ClientServing() {}

  static Behavior<Command> ready(ClientLife life, Serving serving) {
    RunningClient client = serving.client();
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case AddTarget add -> add(life, serving, add, false);
              case RemoveTarget remove -> {
                if (life.remove(remove, Optional.of(client)) && life.targets.isEmpty()) {
                  yield ClientDraining.beginExit(
                      life, serving, "the last reference was removed", Duration.ZERO);
                }
                yield Behaviors.same();
              }
              case Stats stats -> stats(life, serving, stats);
              case CheckReferences check -> check(life, serving);
              case ClientDied died -> died(life, serving, died);
              case MountActor.Upgrade upgrade -> ClientUpgrading.begin(life, serving, upgrade);
              case ContainersDue due -> {
                List<ContainerOutcome> left = life.targets.recoverContainers(client.mountPath());
                if (left.isEmpty()) {
                  life.log()
                      .info(
                          "volume {}: every container recovered on try {}",
                          life.key.volumeId(),
                          serving.containers().tries() + 1);
                }
                yield ready(life, retryContainersLater(life, serving, left));
              }
              default -> life.otherwise(command, Shown.of(ClientState.READY, Optional.of(client)));
            });
  }

  // ---- publish and unpublish -------------------------------------------------------------

  static Behavior<Command> add(ClientLife life, Serving serving, AddTarget add, boolean draining) {
    RunningClient client = serving.client();
    // The parent hears of the reference before the caller does, so that a call the caller makes
    // after this answer is routed with the reference already confirmed or released.
    StatusReply<Done> answer;
    try {
      TargetVolume volume = add.volume().orElse(life.targets.ownVolume());
      var added =
          new TargetAdded(
              life.key,
              Optional.of(client),
              add.target().toString(),
              add.readOnly(),
              Optional.of(volume).filter(v -> !v.equals(life.targets.ownVolume())));
      life.targets.bind(
          add.target(),
          volume,
          add.readOnly(),
          client.mountPath(),
          () -> life.runtime.record(added));
      answer = StatusReply.ack();
    } catch (Failure f) {
      if (life.mounter.probe(client.mountPath()) == MountState.STALE) {
        // The client died and its exit has not reached us yet: restart it, then bind.
        life.waiting.await(add, Optional.empty());
        life.lastError = Optional.of("the mount point " + client.mountPath() + " is not connected");
        life.log()
            .warn(
                "volume {}: client {} is gone: {}",
                life.key.volumeId(),
                client.handle(),
                life.lastError.get());
        return ClientStarting.scheduleRestart(life, Optional.of(client), Optional.empty());
      }
      answer = StatusReply.error(f);
    }
    life.answerHeld(add.target());
    add.replyTo().tell(answer);
    if (draining || (life.deleteAt.isPresent() && !life.targets.isEmpty())) {
      if (life.targets.isEmpty()) {
        ClientDraining.idleIfDue(life);
        return Behaviors.same();
      }
      return ClientDraining.cancelExit(life, serving, "a new reference arrived");
    }
    if (life.targets.isEmpty()) {
      // The publish that started this client failed: nothing references it.
      return ClientDraining.beginExit(life, serving, "the only publish failed", Duration.ZERO);
    }
    return Behaviors.same();
  }

  private static Behavior<Command> stats(ClientLife life, Serving serving, Stats stats) {
    Optional<Instant> since = serving.unresponsiveSince();
    if (since.isPresent() && life.targets.holds(stats.target())) {
      stats
          .replyTo()
          .tell(
              StatusReply.success(
                  new TargetStats(
                      Optional.empty(),
                      true,
                      "the JuiceFS client has not answered since "
                          + since.get()
                          + " (hung or "
                          + "stopped); the reference check restarts a client that stays so")));
      return Behaviors.same();
    }
    if (life.stats(stats, false) && since.isEmpty()) {
      life.log()
          .warn(
              "volume {}: client {} does not answer (hung or stopped); stats "
                  + "calls answer abnormal at once until it answers again or is restarted",
              life.key.volumeId(),
              serving.client().handle());
      return ready(life, serving.unresponsive(life.now()));
    }
    return Behaviors.same();
  }

  // ---- the client's health ---------------------------------------------------------------

  /**
   * Restarts a client whose mount does not answer (hung, or dead unseen), and drops references that
   * are no longer published (pod gone, or target unmounted: a lost unpublish).
   */
  private static Behavior<Command> check(ClientLife life, Serving serving) {
    RunningClient client = serving.client();
    if (life.mounter.probe(client.mountPath()) != MountState.STALE) {
      serving = serving.answering();
    } else if (!serving.staleAtCheck().map(client::equals).orElse(false)) {
      // A crashed client's mount point answers ENOTCONN before its exit is reported: look again.
      serving = serving.foundStale();
      life.timers.startSingleTimer(HUNG_TIMER, new CheckReferences(), MountActor.HUNG_CONFIRMATION);
    } else {
      // A client that hangs, or died without its exit being seen, is found here: kill it (a
      // deliberate stop, so no second exit report) and treat it as a crash. The restart waits
      // for the stop; this actor does not.
      life.ctx.pipeToSelf(
          life.stopClient(client),
          (done, error) -> new HungClientStopped(client, Optional.ofNullable(error)));
      return died(
          life,
          serving,
          new ClientDied(
              new ClientExit(
                  client,
                  "its mount point "
                      + client.mountPath()
                      + " does not answer (hung or dead client)")));
    }
    List<Path> gone = life.targets.dropUnpublished(life.runtime::podGone);
    gone.forEach(life::tellDropped);
    gone.forEach(
        t -> life.runtime.record(new TargetRemoved(life.key, Optional.of(client), t.toString())));
    if (!gone.isEmpty()) {
      if (life.targets.isEmpty()) {
        return ClientDraining.beginExit(
            life,
            serving,
            "references of targets that are no longer published were dropped",
            Duration.ZERO);
      }
    }
    return ready(life, serving);
  }

  static Behavior<Command> died(ClientLife life, Serving serving, ClientDied died) {
    RunningClient client = serving.client();
    if (!ClientStarting.sameClient(client, died)) {
      return Behaviors.same(); // not ours
    }
    String reason = died.exit().reason();
    life.lastError = Optional.of(reason);
    life.log().warn("volume {}: client {} died: {}", life.key.volumeId(), client.handle(), reason);
    if (life.targets.isEmpty()) {
      return ClientDraining.giveUp(life, Optional.of(client), "the client died with no references");
    }
    life.restarts =
        life.restarts.afterRunning(
            Duration.between(serving.readyAt(), life.now()), life.settings.restartResetAfter());
    return ClientStarting.scheduleRestart(life, Optional.of(client), Optional.empty());
  }

  /** A container recovery that failed is tried again with backoff, a bounded number of times. */
  static Serving retryContainersLater(
      ClientLife life, Serving serving, List<ContainerOutcome> left) {
    if (left.isEmpty()) {
      return serving;
    }
    Backoff retries = serving.containers();
    if (retries.tries() >= MountActor.CONTAINER_RETRIES) {
      life.lastError =
          Optional.of(
              left.size()
                  + " containers still hold a dead copy of the volume after "
                  + retries.tries()
                  + " tries; their pods must be restarted: "
                  + left.getFirst().describe());
      life.log().error("volume {}: {}", life.key.volumeId(), life.lastError.get());
      return serving;
    }
    life.log()
        .warn(
            "volume {}: {} containers not recovered; trying again in {} ms",
            life.key.volumeId(),
            left.size(),
            retries.delay().toMillis());
    life.timers.startSingleTimer(CONTAINERS_TIMER, new ContainersDue(), retries.delay());
    return serving.containersRetried(retries.next());
  }
}
