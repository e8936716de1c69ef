package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.StartProgress;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Predicate;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.pattern.StatusReply;

/**
 * One shared JuiceFS client and every target bound to it. Publish and unpublish for the client
 * arrive here one at a time through the mailbox, so the reference set needs no lock; the client
 * itself is started, restarted and stopped through the {@link MountRuntime} port and targets are
 * bound through the {@link Mounter} port.
 *
 * <p>A reference is recorded by the runtime before a publish is answered, so a driver restart
 * rebuilds this actor from the record ({@link #recovered}).
 */
public final class MountActor extends AbstractBehavior<MountActor.Command> {

  /** What the actor understands. Replies use {@link StatusReply} carrying a {@link Failure}. */
  public sealed interface Command {}

  public record AddTarget(Path target, boolean readOnly, ActorRef<StatusReply<Done>> replyTo)
      implements Command {}

  public record RemoveTarget(Path target, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  public record Stats(Path target, ActorRef<StatusReply<TargetStats>> replyTo) implements Command {}

  public record Describe(ActorRef<ClientView> replyTo) implements Command {}

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

  /** Timer keys: a timer's message is not its key unless it is passed as one. */
  private static final Object EXIT_TIMER = "delayed-exit";

  private static final Object RESTART_TIMER = "restart";
  private static final Object CHECK_TIMER = "reference-check";
  private static final Object CONTAINERS_TIMER = "container-recovery";
  private static final Object HUNG_TIMER = "hung-confirmation";

  /**
   * A crashed client's mount point answers ENOTCONN before its exit is reported (on a node, kubelet
   * and the pod informer take a second or two): a check that finds it so looks again this much
   * later before it calls the client hung and stops it itself. Stopping it then would wait for its
   * pod to go, and hold the restart that the exit report starts at once.
   */
  static final Duration HUNG_CONFIRMATION = Duration.ofSeconds(3);

  /** Tries of one client's container recovery after the first, before it is left to the log. */
  static final int CONTAINER_RETRIES = 8;

  private record Ports(
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock,
      ActorRef<Report> parent) {}

  private final Ports ports;
  private final ClientKey key;
  private final VolumeSettings volume;
  private final TimerScheduler<Command> timers;
  private final StashBuffer<Command> waiting;
  private final Targets targets;

  private ClientState state = ClientState.STARTING;
  private RunningClient client;

  /** A client that died and was not restarted; stopped on exit so its mount point is cleared. */
  private RunningClient deadClient;

  private Optional<Instant> deleteAt = Optional.empty();

  /**
   * The runtime's last stop of a client of this key, which takes as long as the client needs to go
   * (a Mount Pod's grace period): the next client starts only once it completed.
   */
  private CompletionStage<Void> lastStop = CompletableFuture.completedFuture(null);

  private int restarts;
  private Duration backoff;

  /** When the current client became ready; its backoff is forgiven once it has run a while. */
  private Instant readyAt;

  private Optional<String> lastError = Optional.empty();

  /** What the start in flight waits on, as the runtime last said; empty when none is. */
  private Optional<StartProgress> progress = Optional.empty();

  /**
   * A publish was answered before the client it waited for was ready: its caller will retry, so a
   * client that then comes up unreferenced waits for it ({@link MountSettings#retryGrace}).
   */
  private boolean retryExpected;

  /** When the death of the client being recovered was seen; null while it serves. */
  private Instant brokenSince;

  /** The client whose mount point the last check found dead, to be confirmed by the next. */
  private RunningClient staleAtCheck;

  /** Containers still holding a dead copy after the last recovery, and how often retried. */
  private int containerRetries;

  private Duration containerBackoff;

  /**
   * When a stats call found the running client not answering (a hung or stopped process: the call
   * waited out its deadline); null while it answers. Later stats calls are answered from this at
   * once instead of each waiting out a deadline of its own in this mailbox, ahead of the reference
   * check that restarts such a client.
   */
  private Instant unresponsiveSince;

  /** A probe that took this long waited on the client, not on the kernel. */
  static final Duration UNRESPONSIVE = Duration.ofSeconds(1);

  public static Behavior<Command> create(
      ClientKey key,
      VolumeSettings volume,
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock,
      ActorRef<Report> parent) {
    return setup(
        key,
        volume,
        new Ports(runtime, mounter, containers, settings, clock, parent),
        Map.of(),
        Optional.empty(),
        Optional.empty());
  }

  /** Rebuilds the actor of a client recorded by an earlier driver on this node. */
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
    return setup(
        record.key(),
        volume,
        new Ports(runtime, mounter, containers, settings, clock, parent),
        targets,
        record.running(),
        record.deleteAt());
  }

  private static Behavior<Command> setup(
      ClientKey key,
      VolumeSettings volume,
      Ports ports,
      Map<Path, Boolean> targets,
      Optional<RunningClient> previous,
      Optional<Instant> deleteAt) {
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers ->
                    Behaviors.withStash(
                        10_000,
                        stash ->
                            new MountActor(
                                ctx, key, volume, ports, timers, stash, targets, previous,
                                deleteAt))));
  }

  private MountActor(
      ActorContext<Command> ctx,
      ClientKey key,
      VolumeSettings volume,
      Ports ports,
      TimerScheduler<Command> timers,
      StashBuffer<Command> waiting,
      Map<Path, Boolean> recoveredTargets,
      Optional<RunningClient> previous,
      Optional<Instant> recoveredDeleteAt) {
    super(ctx);
    this.key = key;
    this.volume = volume;
    this.ports = ports;
    this.timers = timers;
    this.waiting = waiting;
    this.backoff = ports.settings().restartMinBackoff();
    this.targets =
        new Targets(
            key,
            volume,
            ports.mounter(),
            ports.containers(),
            ports.settings().kubeletRoot(),
            ctx.getLog(),
            recoveredTargets);
    this.deleteAt = recoveredDeleteAt;
    timers.startTimerWithFixedDelay(
        CHECK_TIMER, new CheckReferences(), ports.settings().referenceCheck());
    startClient(
        previous,
        previous.isPresent() ? "adopting the client of an earlier driver" : "first publish");
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder().onAnyMessage(this::handle).build();
  }

  private Behavior<Command> handle(Command command) {
    return switch (command) {
      case AddTarget add -> onAdd(add);
      case RemoveTarget remove -> onRemove(remove);
      case Stats stats -> onStats(stats);
      case Describe describe -> {
        describe.replyTo().tell(view());
        yield this;
      }
      case Stop stop when state == ClientState.STOPPING -> this;
      case Stop stop -> idle() ? onStop() : refuseStop();
      case CheckReferences check -> onCheckReferences();
      case ClientStarted started -> onStarted(started.client());
      case ClientStartFailed failed -> onStartFailed(failed.cause());
      case StartProgressed progressed -> onProgress(progressed.progress());
      case AnswerDue due -> onAnswerDue(due.add());
      case ClientDied died -> onDied(died.exit());
      case RestartDue due -> {
        if (state == ClientState.BROKEN) {
          startClient(Optional.empty(), "restart " + restarts + " after a crash");
        }
        yield this;
      }
      case ExitDue due -> {
        if (deleteAt.isPresent()
            && state == ClientState.DRAINING
            && ports.clock().instant().isBefore(deleteAt.get())) {
          startExitTimer(); // one step of a wait longer than the scheduler holds
        } else {
          idleIfDue();
        }
        yield this;
      }
      case ContainersDue due -> onContainersDue();
      case HungClientStopped stopped -> {
        stopped
            .failure()
            .ifPresent(
                e ->
                    getContext()
                        .getLog()
                        .error(
                            "volume {}: the hung client " + "{} could not be stopped: {}",
                            key.volumeId(),
                            stopped.client().handle(),
                            Failure.unwrap(e).getMessage()));
        yield this;
      }
      case Retired retired -> onRetired(retired.failure());
    };
  }

  // ---- publish and unpublish -------------------------------------------------------------

  private Behavior<Command> onAdd(AddTarget add) {
    if (state == ClientState.STARTING
        || state == ClientState.RESTARTING
        || state == ClientState.BROKEN
        || state == ClientState.STOPPING) {
      awaitClient(add);
      return this;
    }
    if (client == null) {
      // Draining after the client died or failed to start: a new reference starts it again.
      awaitClient(add);
      startClient(Optional.empty(), "a new reference arrived");
      return this;
    }
    // The parent hears of the reference before the caller does, so that a call the caller makes
    // after this answer is routed with the reference already confirmed or released.
    StatusReply<Done> answer;
    try {
      targets.bind(add.target(), add.readOnly(), client.mountPath(), this::save);
      answer = StatusReply.ack();
    } catch (Failure f) {
      if (ports.mounter().probe(client.mountPath()) == MountState.STALE) {
        // The client died and its exit has not reached us yet: restart it, then bind.
        awaitClient(add);
        lastError = Optional.of("the mount point " + client.mountPath() + " is not connected");
        getContext()
            .getLog()
            .warn(
                "volume {}: client {} is gone: {}",
                key.volumeId(),
                client.handle(),
                lastError.get());
        scheduleRestart();
        return this;
      }
      answer = StatusReply.error(f);
    }
    answerHeld(add.target());
    add.replyTo().tell(answer);
    if (state == ClientState.DRAINING || (deleteAt.isPresent() && !targets.isEmpty())) {
      if (targets.isEmpty()) {
        idleIfDue();
      } else {
        cancelExit("a new reference arrived");
      }
    } else if (targets.isEmpty() && state == ClientState.READY) {
      // The publish that started this client failed: nothing references it.
      beginExit("the only publish failed");
    }
    return this;
  }

  // ---- publishes that wait for the client ------------------------------------------------

  /**
   * A publish waits for the client, but not past the answer deadline (kubelet gives up at 120 s and
   * would show only "context deadline exceeded"), and not at all while the start is stuck on
   * something that does not fix itself soon. Its deadline counts from its first wait: a publish
   * stashed again after a failed restart keeps it.
   */
  private void awaitClient(AddTarget add) {
    Optional<StartProgress> stuck = progress.filter(StartProgress::stuck);
    if (starting() && stuck.isPresent()) {
      answerEarly(add, stuckFailure(stuck.get()));
      return;
    }
    waiting.stash(add);
    if (!timers.isTimerActive(add)) {
      timers.startSingleTimer(add, new AnswerDue(add), ports.settings().answerDeadline());
    }
  }

  private boolean starting() {
    return state == ClientState.STARTING || state == ClientState.RESTARTING;
  }

  private Behavior<Command> onProgress(StartProgress reported) {
    if (!starting()) {
      return this; // the start it speaks of has ended
    }
    if (!progress.equals(Optional.of(reported))) {
      getContext()
          .getLog()
          .info(
              "volume {}: client {} is starting: {}", key.volumeId(), key, reported.description());
    }
    progress = Optional.of(reported);
    if (reported.stuck()) {
      Failure failure = stuckFailure(reported);
      takeWaiting(c -> c instanceof AddTarget).forEach(c -> answerEarly((AddTarget) c, failure));
    }
    return this;
  }

  private Behavior<Command> onAnswerDue(AddTarget add) {
    if (!takeWaiting(add::equals).isEmpty()) {
      answerEarly(
          add,
          new Failure(
              Failure.Code.DEADLINE_EXCEEDED,
              "volume "
                  + key.volumeId()
                  + " is not ready after "
                  + ports.settings().answerDeadline().toSeconds()
                  + " s: "
                  + waitingOn()
                  + ". The client's start goes on, and the retry waits for the same one"));
    }
    return this;
  }

  private Failure stuckFailure(StartProgress stuck) {
    return new Failure(
        Failure.Code.UNAVAILABLE,
        "volume "
            + key.volumeId()
            + " cannot be served until this is fixed: "
            + stuck.description()
            + ". The client's "
            + "start goes on, and the retry waits for the same one");
  }

  /** What the client that a publish waits for is doing, for that publish's answer. */
  private String waitingOn() {
    return switch (state) {
      case STARTING, RESTARTING ->
          progress.map(StartProgress::description).orElse("its client is still starting");
      case BROKEN ->
          "its client died ("
              + lastError.orElse("no reason known")
              + ") and is restarted after a backoff";
      default -> "its client is " + state.name().toLowerCase(Locale.ROOT);
    };
  }

  /** Answers a waiting publish before the client is ready; it holds no reference. */
  private void answerEarly(AddTarget add, Failure failure) {
    retryExpected = true;
    getContext()
        .getLog()
        .info(
            "volume {}: publish at {} answered before its client is ready: {}",
            key.volumeId(),
            add.target(),
            failure.getMessage());
    answerHeld(add.target());
    add.replyTo().tell(StatusReply.error(failure));
  }

  /** Removes the waiting commands that match, keeping the order of the others. */
  private List<Command> takeWaiting(Predicate<Command> which) {
    List<Command> taken = new ArrayList<>();
    List<Command> kept = new ArrayList<>();
    waiting.forEach(c -> (which.test(c) ? taken : kept).add(c));
    if (!taken.isEmpty()) {
      waiting.clear();
      kept.forEach(waiting::stash);
    }
    return taken;
  }

  /** Tells the parent this client may go, unless a delayed exit is still running. */
  private void idleIfDue() {
    if (idle()) {
      ports.parent().tell(new Idle(key));
    }
  }

  private Behavior<Command> onRemove(RemoveTarget remove) {
    // An unpublish needs no client, but it must not overtake a publish of the same target that
    // waits for one (while the client is up, whatever is still stashed came after this call).
    boolean waitingForClient = state == ClientState.BROKEN || state == ClientState.RESTARTING;
    if (state == ClientState.STARTING
        || state == ClientState.STOPPING
        || waitingForClient
            && waiting.anyMatch(
                c -> c instanceof AddTarget a && a.target().equals(remove.target()))) {
      waiting.stash(remove);
      return this;
    }
    try {
      if (targets.unbind(remove.target())) {
        save();
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
      return this;
    }
    answerHeld(remove.target());
    remove.replyTo().tell(StatusReply.ack());
    if (targets.isEmpty() && state == ClientState.READY) {
      beginExit("the last reference was removed");
    } else if (targets.isEmpty() && state == ClientState.BROKEN && waiting.isEmpty()) {
      giveUpClient("the last reference was removed while the client was down");
    } else if (targets.isEmpty() && state == ClientState.DRAINING) {
      // The parent may have ignored the idle report while this call was on its way.
      idleIfDue();
    }
    return this;
  }

  private Behavior<Command> onStats(Stats stats) {
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
      return this;
    }
    if (unresponsiveSince != null && state == ClientState.READY) {
      stats
          .replyTo()
          .tell(
              StatusReply.success(
                  new TargetStats(
                      Optional.empty(),
                      true,
                      "the JuiceFS client has not answered since "
                          + unresponsiveSince
                          + " (hung or "
                          + "stopped); the reference check restarts a client that stays so")));
      return this;
    }
    long probing = System.nanoTime();
    MountState at = ports.mounter().probe(stats.target());
    if (at != MountState.MOUNTED) {
      markIfUnresponsive(probing);
      String why =
          switch (state) {
            case BROKEN, RESTARTING -> "the JuiceFS client died and is being restarted";
            default -> "the target is " + at.name().toLowerCase().replace('_', ' ');
          };
      stats.replyTo().tell(StatusReply.success(new TargetStats(Optional.empty(), true, why)));
      return this;
    }
    try {
      stats
          .replyTo()
          .tell(
              StatusReply.success(
                  new TargetStats(
                      Optional.of(ports.mounter().stats(stats.target())), false, "healthy")));
    } catch (MountException e) {
      markIfUnresponsive(probing);
      stats
          .replyTo()
          .tell(
              StatusReply.success(
                  new TargetStats(Optional.empty(), true, "statfs failed: " + e.getMessage())));
    }
    return this;
  }

  /** After a failed probe or statfs that began at {@code startedNanos}. */
  private void markIfUnresponsive(long startedNanos) {
    if (state == ClientState.READY
        && unresponsiveSince == null
        && System.nanoTime() - startedNanos >= UNRESPONSIVE.toNanos()) {
      unresponsiveSince = ports.clock().instant();
      getContext()
          .getLog()
          .warn(
              "volume {}: client {} does not answer (hung or stopped); stats "
                  + "calls answer abnormal at once until it answers again or is restarted",
              key.volumeId(),
              client.handle());
    }
  }

  private Behavior<Command> onCheckReferences() {
    if (state != ClientState.READY) {
      return this;
    }
    if (ports.mounter().probe(client.mountPath()) != MountState.STALE) {
      unresponsiveSince = null;
      staleAtCheck = null;
    } else if (staleAtCheck != client) {
      staleAtCheck = client;
      timers.startSingleTimer(HUNG_TIMER, new CheckReferences(), HUNG_CONFIRMATION);
    } else {
      // A client that hangs, or died without its exit being seen, is found here: kill it (a
      // deliberate stop, so no second exit report) and treat it as a crash. The restart waits
      // for the stop; this actor does not.
      RunningClient hung = client;
      staleAtCheck = null;
      getContext()
          .pipeToSelf(
              stopClient(hung),
              (done, error) -> new HungClientStopped(hung, Optional.ofNullable(error)));
      return onDied(
          new ClientExit(
              hung,
              "its mount point " + hung.mountPath() + " does not answer (hung or dead client)"));
    }
    List<Path> gone = targets.dropUnpublished(ports.runtime()::podGone);
    gone.forEach(this::tellDropped);
    if (!gone.isEmpty()) {
      save();
      if (targets.isEmpty()) {
        beginExit("references of targets that are no longer published were dropped");
      }
    }
    return this;
  }

  // ---- the client's life -----------------------------------------------------------------

  private void startClient(Optional<RunningClient> previous, String reason) {
    transition(
        restarts == 0 && client == null ? ClientState.STARTING : ClientState.RESTARTING, reason);
    progress = Optional.empty();
    var self = getContext().getSelf();
    // After the last stop, even a failed one: the start clears what that stop left or says why.
    CompletionStage<RunningClient> starting =
        lastStop
            .exceptionally(stopFailed -> null)
            .thenCompose(
                stopped ->
                    ports
                        .runtime()
                        .start(
                            key,
                            volume,
                            previous,
                            exit -> self.tell(new ClientDied(exit)),
                            reported -> self.tell(new StartProgressed(reported))));
    getContext()
        .pipeToSelf(
            starting,
            (started, error) ->
                error == null ? new ClientStarted(started) : new ClientStartFailed(error));
  }

  private Behavior<Command> onStarted(RunningClient started) {
    boolean recovering = state == ClientState.RESTARTING || client != null || !targets.isEmpty();
    client = started;
    progress = Optional.empty();
    unresponsiveSince = null;
    readyAt = ports.clock().instant();
    lastError = Optional.empty();
    transition(
        ClientState.READY, "client " + started.handle() + " is ready at " + started.mountPath());
    timers.cancel(CONTAINERS_TIMER);
    if (recovering) {
      Targets.Rebound result = targets.rebind(started.mountPath());
      result.dropped().forEach(this::tellDropped);
      result.error().ifPresent(e -> lastError = Optional.of(e));
      containerRetries = 0;
      containerBackoff = ports.settings().restartMinBackoff();
      retryContainersLater(result.containersLeft());
    }
    if (brokenSince != null) {
      var recovered =
          new ClientRecovered(
              key.name(),
              key.volumeId(),
              Duration.between(brokenSince, ports.clock().instant()),
              targets.names().size(),
              restarts);
      getContext()
          .getLog()
          .info(
              "volume {}: client {} recovered: {} targets served again {} ms "
                  + "after its death was seen",
              key.volumeId(),
              key,
              recovered.targets(),
              recovered.took().toMillis());
      getContext().getSystem().eventStream().tell(new EventStream.Publish<>(recovered));
      brokenSince = null;
    }
    save();
    if (targets.isEmpty() && waiting.isEmpty()) {
      // A publish answered while this client started will be retried: leave it time to come.
      beginExit(
          retryExpected
              ? "no target references the client yet; it waits for the retry of "
                  + "a publish answered while it started"
              : "no target references the client",
          retryExpected ? ports.settings().retryGrace() : Duration.ZERO);
    } else if (!targets.isEmpty() && deleteAt.isPresent()) {
      deleteAt = Optional.empty();
      save();
    }
    retryExpected = false;
    return waiting.unstashAll(this);
  }

  /** A container recovery that failed is tried again with backoff, a bounded number of times. */
  private void retryContainersLater(List<ContainerOutcome> left) {
    if (left.isEmpty()) {
      return;
    }
    if (containerRetries >= CONTAINER_RETRIES) {
      lastError =
          Optional.of(
              left.size()
                  + " containers still hold a dead copy of the volume"
                  + " after "
                  + containerRetries
                  + " tries; their pods must be restarted: "
                  + left.getFirst().describe());
      getContext().getLog().error("volume {}: {}", key.volumeId(), lastError.get());
      return;
    }
    getContext()
        .getLog()
        .warn(
            "volume {}: {} containers not recovered; trying again in {} ms",
            key.volumeId(),
            left.size(),
            containerBackoff.toMillis());
    timers.startSingleTimer(CONTAINERS_TIMER, new ContainersDue(), containerBackoff);
    Duration next = containerBackoff.multipliedBy(2);
    containerBackoff =
        next.compareTo(ports.settings().restartMaxBackoff()) > 0
            ? ports.settings().restartMaxBackoff()
            : next;
  }

  private Behavior<Command> onContainersDue() {
    if (state != ClientState.READY || client == null) {
      return this; // a client that died again is recovered afresh when it is back
    }
    containerRetries++;
    List<ContainerOutcome> left = targets.recoverContainers(client.mountPath());
    if (left.isEmpty()) {
      getContext()
          .getLog()
          .info(
              "volume {}: every container recovered on try {}",
              key.volumeId(),
              containerRetries + 1);
    }
    retryContainersLater(left);
    return this;
  }

  private Behavior<Command> onStartFailed(Throwable error) {
    Throwable cause = Failure.unwrap(error);
    Failure failure =
        cause instanceof Failure f
            ? f
            : new Failure(
                Failure.Code.UNAVAILABLE,
                "the JuiceFS client did not start: " + cause.getMessage(),
                cause);
    lastError = Optional.of(failure.getMessage());
    progress = Optional.empty();
    retryExpected = false;
    getContext()
        .getLog()
        .error("volume {}: client {} did not start: {}", key.volumeId(), key, failure.getMessage());
    if (targets.isEmpty()) {
      // Nobody depends on this client yet: fail the waiting publishes and go away.
      failWaiting(failure);
      giveUpClient("the client could not start");
      return this;
    }
    failWaitingPublishes(failure);
    scheduleRestart();
    return waiting.unstashAll(this);
  }

  private Behavior<Command> onDied(ClientExit exit) {
    boolean current = client != null && exit.client().handle().equals(client.handle());
    if (!current && (state == ClientState.STARTING || state == ClientState.RESTARTING)) {
      // The runtime may report the death of the client it is starting before the start itself
      // (onExit and the start's completion run on different threads): keep it for after.
      waiting.stash(new ClientDied(exit));
      return this;
    }
    if (!current
        || state == ClientState.STOPPING
        || state == ClientState.BROKEN
        || state == ClientState.RESTARTING) {
      return this; // not ours, or its death is known already
    }
    lastError = Optional.of(exit.reason());
    getContext()
        .getLog()
        .warn("volume {}: client {} died: {}", key.volumeId(), client.handle(), exit.reason());
    if (targets.isEmpty()) {
      giveUpClient("the client died with no references");
      return this;
    }
    // A client that crashes soon after each restart keeps doubling its backoff; one that served
    // a while was not in a crash loop and starts over from the shortest.
    if (readyAt != null
        && !Duration.between(readyAt, ports.clock().instant())
            .minus(ports.settings().restartResetAfter())
            .isNegative()) {
      backoff = ports.settings().restartMinBackoff();
    }
    scheduleRestart();
    return this;
  }

  /**
   * No reference needs the dead (or never started) client: no restart, no delayed exit; the parent
   * may stop this actor, which then lets the runtime clean up what the client left.
   */
  private void giveUpClient(String reason) {
    timers.cancel(RESTART_TIMER);
    timers.cancel(EXIT_TIMER);
    if (client != null) {
      deadClient = client;
      client = null;
    }
    brokenSince = null;
    transition(ClientState.DRAINING, reason);
    ports.parent().tell(new Idle(key));
  }

  private void scheduleRestart() {
    if (brokenSince == null) {
      brokenSince = ports.clock().instant();
    }
    transition(ClientState.BROKEN, "restart in " + backoff.toMillis() + " ms");
    timers.startSingleTimer(RESTART_TIMER, new RestartDue(), backoff);
    restarts++;
    Duration next = backoff.multipliedBy(2);
    backoff =
        next.compareTo(ports.settings().restartMaxBackoff()) > 0
            ? ports.settings().restartMaxBackoff()
            : next;
  }

  private void beginExit(String reason) {
    beginExit(reason, Duration.ZERO);
  }

  /** As {@link #beginExit(String)}, waiting at least {@code atLeast} even without a delay. */
  private void beginExit(String reason, Duration atLeast) {
    Duration delay = volume.deleteDelay().compareTo(atLeast) >= 0 ? volume.deleteDelay() : atLeast;
    // An exit time recorded by an earlier driver stands, even if the delay parsed now differs.
    if (deleteAt.isEmpty() && (delay.isZero() || delay.isNegative())) {
      transition(ClientState.DRAINING, reason);
      ports.parent().tell(new Idle(key));
      return;
    }
    Instant now = ports.clock().instant();
    Instant latest = now.plus(VolumeSettings.MAX_DELETE_DELAY);
    Instant at = deleteAt.orElse(now.plus(delay));
    if (at.isAfter(latest)) {
      // A record written by another version or by hand: honour what can be, never fail on it.
      getContext()
          .getLog()
          .error(
              "volume {}: client {} has a recorded exit time {} beyond the "
                  + "longest delete delay ({} days); it exits at {} instead",
              key.volumeId(),
              key,
              at,
              VolumeSettings.MAX_DELETE_DELAY.toDays(),
              latest);
      at = latest;
    }
    deleteAt = Optional.of(at);
    save();
    transition(ClientState.DRAINING, reason + "; delayed exit at " + at);
    startExitTimer();
  }

  /**
   * Pekko's scheduler refuses a delay beyond about 248 days: a longer wait is taken in steps, each
   * ending in an {@link ExitDue} that starts the next one until the exit time is reached.
   */
  static final Duration LONGEST_TIMER = Duration.ofDays(100);

  private void startExitTimer() {
    Duration remaining = Duration.between(ports.clock().instant(), deleteAt.orElseThrow());
    Duration step =
        remaining.isNegative()
            ? Duration.ZERO
            : remaining.compareTo(LONGEST_TIMER) > 0 ? LONGEST_TIMER : remaining;
    timers.startSingleTimer(EXIT_TIMER, new ExitDue(), step);
  }

  private void cancelExit(String reason) {
    timers.cancel(EXIT_TIMER);
    deleteAt = Optional.empty();
    save();
    transition(ClientState.READY, reason + "; delayed exit cancelled");
  }

  /** Nothing references the client, nothing waits for it and no delayed exit is pending. */
  private boolean idle() {
    return state == ClientState.DRAINING
        && targets.isEmpty()
        && waiting.isEmpty()
        && !timers.isTimerActive(EXIT_TIMER);
  }

  private Behavior<Command> refuseStop() {
    getContext()
        .getLog()
        .info(
            "volume {}: client {} is {} with {} targets; not stopping it",
            key.volumeId(),
            key,
            state,
            targets.names().size());
    ports.parent().tell(new InUse(key));
    return this;
  }

  /**
   * Stops the client, removes its record and cleans its cache, in that order, on the runtime's
   * threads: a stop can take the client's whole grace period, and this actor's thread is shared
   * with the mount actors of other volumes. The guardian holds the calls for this key until the
   * actor has ended.
   */
  private Behavior<Command> onStop() {
    transition(ClientState.STOPPING, "no references and no delay left");
    timers.cancelAll();
    // A dead client is stopped too (idempotent): that clears the mount point it left.
    RunningClient last = client != null ? client : deadClient;
    CompletionStage<Void> stopped =
        last != null ? stopClient(last) : lastStop.exceptionally(e -> null);
    CompletionStage<Void> retired =
        stopped
            .thenRun(() -> ports.runtime().remove(key))
            .thenCompose(
                removed ->
                    volume.cleanCache()
                        ? ports.runtime().cleanCache(volume)
                        : CompletableFuture.completedFuture(null));
    getContext().pipeToSelf(retired, (done, error) -> new Retired(Optional.ofNullable(error)));
    return this;
  }

  private Behavior<Command> onRetired(Optional<Throwable> failure) {
    failure.ifPresent(
        e ->
            getContext()
                .getLog()
                .error(
                    "volume {}: client {} was not stopped "
                        + "cleanly: {}; a record left behind is cleaned up by the next driver",
                    key.volumeId(),
                    key,
                    Failure.unwrap(e).getMessage()));
    // Anything still waiting was routed here before the guardian let go of this client.
    failWaiting(
        new Failure(
            Failure.Code.ABORTED,
            "the client of volume " + key.volumeId() + " was stopping; retry"));
    getContext().getLog().info("volume {}: client {} stopped", key.volumeId(), key);
    return Behaviors.stopped();
  }

  /** Asks the runtime to stop {@code stopping} once the stop before it, if any, is over. */
  private CompletionStage<Void> stopClient(RunningClient stopping) {
    lastStop = lastStop.exceptionally(e -> null).thenCompose(v -> ports.runtime().stop(stopping));
    return lastStop;
  }

  // ---- helpers ---------------------------------------------------------------------------

  private void save() {
    ports
        .runtime()
        .save(
            new ClientRecord(
                key,
                volume.source(),
                targets.names(),
                targets.readOnlyNames(),
                deleteAt,
                Optional.ofNullable(client)));
  }

  /** Settles an AddTarget or RemoveTarget for the parent's routing table. */
  private void answerHeld(Path target) {
    ports.parent().tell(new TargetHeld(key, target, targets.holds(target), true));
  }

  /** Tells the parent that the actor dropped a reference on its own. */
  private void tellDropped(Path target) {
    ports.parent().tell(new TargetHeld(key, target, false, false));
  }

  private void failWaiting(Failure failure) {
    waiting.forEach(
        c -> {
          switch (c) {
            case AddTarget a -> {
              answerHeld(a.target());
              a.replyTo().tell(StatusReply.error(failure));
            }
            case RemoveTarget r -> {
              answerHeld(r.target());
              r.replyTo().tell(StatusReply.ack());
            }
            case Stats s -> s.replyTo().tell(StatusReply.error(failure));
            default -> {}
          }
        });
    waiting.clear();
  }

  private void failWaitingPublishes(Failure failure) {
    List<Command> keep = new ArrayList<>();
    waiting.forEach(
        c -> {
          if (c instanceof AddTarget a && !targets.holds(a.target())) {
            answerHeld(a.target());
            a.replyTo().tell(StatusReply.error(failure));
          } else {
            keep.add(c);
          }
        });
    waiting.clear();
    keep.forEach(waiting::stash);
  }

  private void transition(ClientState next, String reason) {
    if (next != state) {
      getContext()
          .getLog()
          .info("volume {}: client {} {} -> {}: {}", key.volumeId(), key, state, next, reason);
    }
    state = next;
  }

  private ClientView view() {
    return new ClientView(
        key.name(),
        key.volumeId(),
        state,
        client == null ? "" : client.mountPath().toString(),
        volume.subPath(),
        Optional.ofNullable(client).map(RunningClient::handle),
        List.copyOf(targets.names()),
        deleteAt,
        restarts,
        lastError.or(() -> progress.map(StartProgress::description)));
  }
}
