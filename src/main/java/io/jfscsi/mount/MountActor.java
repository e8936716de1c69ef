package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.StartProgress;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

/**
 * One shared JuiceFS client and every target bound to it. Publish and unpublish for the client
 * arrive here one at a time through the mailbox, so the reference set needs no lock; the client
 * itself is started, restarted and stopped through the {@link MountRuntime} port and targets are
 * bound through the {@link Mounter} port.
 *
 * <p>A reference is recorded by the runtime before a publish is answered, so a driver restart
 * rebuilds this actor from the record ({@link #recovered}).
 *
 * <p>This class holds the protocol and the factories; the behaviour is one per state of the client
 * ({@link ClientState}), written in Pekko's functional style so that what only one state knows is a
 * parameter of that state: {@link ClientStarting} (STARTING, RESTARTING, BROKEN: publishes wait in
 * the stash), {@link ClientServing} (READY), {@link ClientDraining} (DRAINING) and {@link
 * ClientStopping} (STOPPING). What outlives a state is in {@link ClientLife}.
 */
public final class MountActor {

  /** What the actor understands. Replies use {@link StatusReply} carrying a {@link Failure}. */
  public sealed interface Command {}

  /**
   * A publish of {@code target}, which shows {@code volume}: in a share mode another volume than
   * the client's own (empty: the client's own).
   */
  public record AddTarget(
      Path target,
      boolean readOnly,
      ActorRef<StatusReply<Done>> replyTo,
      Optional<TargetVolume> volume)
      implements Command {

    /** A publish of the client's own volume. */
    public AddTarget(Path target, boolean readOnly, ActorRef<StatusReply<Done>> replyTo) {
      this(target, readOnly, replyTo, Optional.empty());
    }
  }

  public record RemoveTarget(Path target, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  public record Stats(Path target, ActorRef<StatusReply<TargetStats>> replyTo) implements Command {}

  public record Describe(ActorRef<ClientView> replyTo) implements Command {}

  /**
   * Replace the client by one that takes over its FUSE connection (smooth upgrade), leaving every
   * target as it is; answered with what happened, or a failure that says why it was refused.
   */
  public record Upgrade(ActorRef<StatusReply<String>> replyTo) implements Command {}

  /** The runtime's upgrade ended: the new client, or why not. */
  record UpgradeEnded(
      Upgrade upgrade,
      RunningClient previous,
      Optional<RunningClient> next,
      Optional<Throwable> failure)
      implements Command {}

  /**
   * From the guardian after an {@link Idle} report: stop the client and end, unless a message that
   * crossed the report gave the actor work again; then it answers {@link InUse} instead.
   */
  public record Stop() implements Command {}

  /**
   * Periodic: restart a client whose mount does not answer (hung, or dead unseen), and drop
   * references that are no longer published (pod gone, or target unmounted: a lost unpublish).
   */
  public record CheckReferences() implements Command {}

  record ClientStarted(RunningClient client) implements Command {}

  record ClientStartFailed(Throwable cause) implements Command {}

  /** The runtime says what the start in flight waits on now. */
  record StartProgressed(StartProgress progress) implements Command {}

  /** A publish that waits for the client has waited the answer deadline. */
  record AnswerDue(AddTarget add) implements Command {}

  record ClientDied(ClientExit exit) implements Command {}

  record RestartDue() implements Command {}

  /** Time to try again the containers whose recovery failed. */
  record ContainersDue() implements Command {}

  record ExitDue() implements Command {}

  /** The runtime has stopped a client found hung; the restart waits for this stop. */
  record HungClientStopped(RunningClient client, Optional<Throwable> failure) implements Command {}

  /** The client is stopped, its record removed and its cache cleaned (or that failed): end. */
  record Retired(Optional<Throwable> failure) implements Command {}

  /** What the actor tells its parent so that it can route by target and stop idle clients. */
  public sealed interface Report {}

  /**
   * Whether the actor holds a reference at {@code target} now. {@code answer} is true when the
   * report settles an AddTarget or RemoveTarget (exactly one report per such command), false when
   * the actor dropped a reference on its own (pod gone).
   */
  public record TargetHeld(ClientKey key, Path target, boolean held, boolean answer)
      implements Report {}

  public record Idle(ClientKey key) implements Report {}

  /** The answer to a {@link Stop} that came too late: the actor has work again and stays. */
  public record InUse(ClientKey key) implements Report {}

  /** Timer key: a timer's message is not its key unless it is passed as one. */
  private static final Object CHECK_TIMER = "reference-check";

  /**
   * A crashed client's mount point answers ENOTCONN before its exit is reported (on a node, kubelet
   * and the pod informer take a second or two): a check that finds it so looks again this much
   * later before it calls the client hung and stops it itself. Stopping it then would wait for its
   * pod to go, and hold the restart that the exit report starts at once.
   */
  static final Duration HUNG_CONFIRMATION = Duration.ofSeconds(3);

  /** Tries of one client's container recovery after the first, before it is left to the log. */
  static final int CONTAINER_RETRIES = 8;

  /** A probe that took this long waited on the client, not on the kernel. */
  static final Duration UNRESPONSIVE = Duration.ofSeconds(1);

  private static final int STASH_CAPACITY = 10_000;

  private MountActor() {}

  public static Behavior<Command> create(
      ClientKey key,
      VolumeSettings volume,
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock,
      ActorRef<Report> parent) {
    return withLife(
        key,
        volume,
        Map.of(),
        Optional.empty(),
        runtime,
        mounter,
        containers,
        settings,
        clock,
        parent,
        life -> begin(life, Optional.empty(), "first publish"));
  }

  /**
   * Rebuilds the actor of a client recorded by an earlier driver on this node: {@code targets} are
   * the recorded ones (path to read-only), each showing the volume the record says.
   */
  public static Behavior<Command> recovered(
      ClientRecord record,
      VolumeSettings volume,
      Map<Path, Boolean> targets,
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock,
      ActorRef<Report> parent) {
    TargetVolume own = TargetVolume.of(volume);
    Map<Path, Targets.Held> held = new LinkedHashMap<>();
    targets.forEach(
        (t, readOnly) ->
            held.put(
                t,
                new Targets.Held(
                    readOnly, record.sharedTargets().getOrDefault(t.toString(), own))));
    return withLife(
        record.key(),
        volume,
        held,
        record.deleteAt(),
        runtime,
        mounter,
        containers,
        settings,
        clock,
        parent,
        life ->
            begin(
                life,
                record.running(),
                record.running().isPresent()
                    ? "adopting the client of an earlier driver"
                    : "first publish"));
  }

  /** The actor's timers, stash and {@link ClientLife}, handed to {@code first}. */
  private static Behavior<Command> withLife(
      ClientKey key,
      VolumeSettings volume,
      Map<Path, Targets.Held> targets,
      Optional<Instant> deleteAt,
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock,
      ActorRef<Report> parent,
      Function<ClientLife, Behavior<Command>> first) {
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers ->
                    Behaviors.withStash(
                        STASH_CAPACITY,
                        stash ->
                            first.apply(
                                new ClientLife(
                                    ctx,
                                    timers,
                                    stash,
                                    key,
                                    volume,
                                    runtime,
                                    mounter,
                                    containers,
                                    settings,
                                    clock,
                                    parent,
                                    targets,
                                    deleteAt)))));
  }

  private static Behavior<Command> begin(
      ClientLife life, Optional<RunningClient> previous, String reason) {
    life.timers.startTimerWithFixedDelay(
        CHECK_TIMER, new CheckReferences(), life.settings.referenceCheck());
    return ClientStarting.start(life, previous, Optional.empty(), Optional.empty(), reason);
  }
}
