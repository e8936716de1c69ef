package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.RecordChange.TargetRemoved;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.StartProgress;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.FsStats;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.mount.MountActor.AnswerDue;
import io.jfscsi.mount.MountActor.Command;
import io.jfscsi.mount.MountActor.Describe;
import io.jfscsi.mount.MountActor.HungClientStopped;
import io.jfscsi.mount.MountActor.InUse;
import io.jfscsi.mount.MountActor.RemoveTarget;
import io.jfscsi.mount.MountActor.Stats;
import io.jfscsi.mount.MountActor.Stop;
import io.jfscsi.mount.MountActor.TargetHeld;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;

/**
 * What every state of one {@link MountActor} shares: its ports, its targets, its stash and timers,
 * the few facts that outlive a state (the restart backoff, the last error, the recorded exit time),
 * and the handling that is the same in every state. The states themselves are {@link
 * ClientStarting}, {@link ClientServing}, {@link ClientDraining} and {@link ClientStopping}; each
 * passes what only it knows as parameters; the calls that wait for a client are in {@link
 * WaitingCalls}. Called only from the actor's mailbox, so it needs no lock.
 */
final class ClientLife {

  /** What a state shows of itself in views, logs and answers. */
  record Shown(
      ClientState state, Optional<RunningClient> client, Optional<StartProgress> progress) {

    static Shown of(ClientState state, Optional<RunningClient> client) {
      return new Shown(state, client, Optional.empty());
    }
  }

  final ActorContext<Command> ctx;
  final TimerScheduler<Command> timers;

  /** Publishes (and the unpublishes that must not overtake them) that wait for the client. */
  final WaitingCalls waiting;

  final ClientKey key;
  final VolumeSettings volume;
  final MountRuntime runtime;
  final Mounter mounter;
  final MountSettings settings;
  final Clock clock;
  final ActorRef<MountActor.Report> parent;
  final Targets targets;

  /** The restarts so far and what the next one waits. */
  Backoff restarts;

  Optional<String> lastError = Optional.empty();

  /** When the delayed exit is due; recorded, so that a driver restart keeps it. */
  Optional<Instant> deleteAt;

  /**
   * The runtime's last stop of a client of this key, which takes as long as the client needs to go
   * (a Mount Pod's grace period): the next client starts only once it completed.
   */
  CompletionStage<Void> lastStop = CompletableFuture.completedFuture(null);

  /**
   * A publish was answered before the client it waited for was ready: its caller will retry, so a
   * client that then comes up unreferenced waits for it ({@link MountSettings#retryGrace}).
   */
  boolean retryExpected;

  /** A client that died and was not restarted; stopped on exit so its mount point is cleared. */
  Optional<RunningClient> deadClient = Optional.empty();

  /** The state last entered, for the log of transitions. */
  private ClientState entered;

  ClientLife(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      StashBuffer<Command> waiting,
      ClientKey key,
      VolumeSettings volume,
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock,
      ActorRef<MountActor.Report> parent,
      Map<Path, Targets.Held> recoveredTargets,
      Optional<Instant> recoveredDeleteAt) {
    // The states log through the context from several classes: one name, the actor's, for all.
    ctx.setLoggerName(MountActor.class);
    this.ctx = ctx;
    this.timers = timers;
    this.waiting = new WaitingCalls(this, waiting);
    this.key = key;
    this.volume = volume;
    this.runtime = runtime;
    this.mounter = mounter;
    this.settings = settings;
    this.clock = clock;
    this.parent = parent;
    this.restarts = Backoff.between(settings.restartMinBackoff(), settings.restartMaxBackoff());
    this.deleteAt = recoveredDeleteAt;
    this.targets =
        new Targets(
            key,
            volume,
            mounter,
            containers,
            settings.kubeletRoot(),
            ctx.getLog(),
            recoveredTargets);
  }

  Logger log() {
    return ctx.getLog();
  }

  Instant now() {
    return clock.instant();
  }

  void enter(ClientState next, String reason) {
    if (next != entered) {
      log().info("volume {}: client {} {} -> {}: {}", key.volumeId(), key, entered, next, reason);
    }
    entered = next;
  }

  /**
   * The messages a state does not name itself: answered the same in every state, or (a timer or a
   * report that the state has left behind) ignored.
   */
  Behavior<Command> otherwise(Command command, Shown shown) {
    switch (command) {
      case Describe describe -> describe.replyTo().tell(view(shown));
      case Stop stop -> refuseStop(shown);
      case MountActor.Upgrade upgrade ->
          upgrade
              .replyTo()
              .tell(
                  StatusReply.error(
                      Failure.precondition(
                          "client "
                              + key
                              + " is "
                              + shown.state()
                              + ": only a serving client can be upgraded; try again when it is"
                              + " READY")));
      case AnswerDue due -> waiting.answerDue(due.add(), shown);
      case HungClientStopped stopped ->
          stopped
              .failure()
              .ifPresent(
                  e ->
                      log()
                          .error(
                              "volume {}: the hung client {} could not be stopped: {}",
                              key.volumeId(),
                              stopped.client().handle(),
                              Failure.unwrap(e).getMessage()));
      default -> {}
    }
    return Behaviors.same();
  }

  // ---- references ------------------------------------------------------------------------

  /** The whole record of a client that starts serving: where a new Mount Pod gets all of it. */
  void saveStarted(RunningClient client) {
    runtime.save(
        new ClientRecord(
            key,
            volume.source(),
            targets.names(),
            targets.readOnlyNames(),
            targets.sharedNames(),
            deleteAt,
            Optional.of(client)));
  }

  /** Settles an AddTarget or RemoveTarget for the parent's routing table. */
  void answerHeld(Path target) {
    parent.tell(new TargetHeld(key, target, targets.holds(target), true));
  }

  /** Tells the parent that the actor dropped a reference on its own. */
  void tellDropped(Path target) {
    parent.tell(new TargetHeld(key, target, false, false));
  }

  /**
   * Unbinds the target of an unpublish and answers it.
   *
   * @return whether it succeeded, so that the state may act on the references left
   */
  boolean remove(RemoveTarget remove, Optional<RunningClient> client) {
    try {
      if (targets.unbind(remove.target())) {
        runtime.record(new TargetRemoved(key, client, remove.target().toString()));
      }
    } catch (MountException e) {
      answerHeld(remove.target());
      remove
          .replyTo()
          .tell(
              StatusReply.error(
                  Failure.internal(
                      "cannot unmount " + Quoted.path(remove.target()) + ": " + e.getMessage(),
                      e)));
      return false;
    }
    answerHeld(remove.target());
    remove.replyTo().tell(StatusReply.ack());
    return true;
  }

  /**
   * Answers a stats call from the target's mount point.
   *
   * @param clientDown the client died and is being restarted, which is why a target is not mounted
   * @return whether the probe or statfs failed only after waiting as long as a hung client makes it
   */
  boolean stats(Stats stats, boolean clientDown) {
    if (!targets.holds(stats.target())) {
      stats
          .replyTo()
          .tell(
              StatusReply.error(
                  Failure.notFound(
                      "volume "
                          + key.volumeId()
                          + " is not published at "
                          + Quoted.path(stats.target()))));
      return false;
    }
    long probing = System.nanoTime();
    MountState at = mounter.probe(stats.target());
    if (at != MountState.MOUNTED) {
      String why =
          clientDown
              ? "the JuiceFS client died and is being restarted"
              : "the target is " + at.name().toLowerCase(Locale.ROOT).replace('_', ' ');
      stats.replyTo().tell(StatusReply.success(new TargetStats(Optional.empty(), true, why)));
      return tookLong(probing);
    }
    try {
      stats
          .replyTo()
          .tell(
              StatusReply.success(
                  new TargetStats(
                      Optional.of(reported(mounter.stats(stats.target()))), false, "healthy")));
      return false;
    } catch (MountException e) {
      stats
          .replyTo()
          .tell(
              StatusReply.success(
                  new TargetStats(Optional.empty(), true, "statfs failed: " + e.getMessage())));
      return tookLong(probing);
    }
  }

  /**
   * What statfs says of the target; for the embedded default, which cannot enforce a volume's size,
   * the size asked for stands as the total. A JuiceFS client reports a directory quota itself.
   */
  private FsStats reported(FsStats measured) {
    if (volume.localDirectory().isEmpty()) {
      return measured;
    }
    return DirectoryQuota.requestedBytes(volume.source().context())
        .map(measured::withCapacity)
        .orElse(measured);
  }

  private static boolean tookLong(long startedNanos) {
    return System.nanoTime() - startedNanos >= MountActor.UNRESPONSIVE.toNanos();
  }

  // ---- stopping --------------------------------------------------------------------------

  private void refuseStop(Shown shown) {
    log()
        .info(
            "volume {}: client {} is {} with {} targets; not stopping it",
            key.volumeId(),
            key,
            shown.state(),
            targets.names().size());
    parent.tell(new InUse(key));
  }

  /** Asks the runtime to stop {@code stopping} once the stop before it, if any, is over. */
  CompletionStage<Void> stopClient(RunningClient stopping) {
    lastStop = lastStop.exceptionally(e -> null).thenCompose(v -> runtime.stop(stopping));
    return lastStop;
  }

  ClientView view(Shown shown) {
    return new ClientView(
        key.name(),
        key.volumeId(),
        shown.state(),
        shown.client().map(c -> c.mountPath().toString()).orElse(""),
        volume.subPath(),
        shown.client().map(RunningClient::handle),
        List.copyOf(targets.names()),
        deleteAt,
        restarts.tries(),
        lastError.or(() -> shown.progress().map(StartProgress::description)),
        targets.volumeIds());
  }
}
