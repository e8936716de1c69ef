package io.jfscsi.management;

import io.jfscsi.Failure;
import io.jfscsi.management.ClientViews.Described;
import io.jfscsi.mount.MountActor;
import io.jfscsi.mount.NodeGuardian;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The smooth upgrades asked of this node plugin: one Mount Pod ({@link UpgradeOne}, {@code upgrade
 * <pod> --recreate}) or every client of the node, {@code workers} at a time ({@link UpgradeAll},
 * the Go driver's {@code upgrade BATCH}). Each client is asked through its mount actor's own {@link
 * MountActor.Upgrade}, so what may be upgraded is decided there: a refusal (nothing changed) skips
 * the client, any other failure fails the batch and, without {@code ignoreError}, starts no more.
 * One batch at a time: a second request follows the running one's lines, and a single upgrade is
 * refused until it ends, so that no client is upgraded twice at once.
 */
public final class NodeUpgrades {

  /** The Go driver's {@code common.MaxParallelUpgradeNum}. */
  public static final int MAX_WORKERS = 50;

  /**
   * A line this often while a batch waits on its upgrades: the HTTP server closes a connection on
   * which nothing was sent for a minute (pekko.http.server.idle-timeout), and one upgrade can take
   * minutes.
   */
  static final Duration KEEPALIVE = Duration.ofSeconds(20);

  public sealed interface Command {}

  /** Upgrade the client that runs in Mount Pod {@code pod}; refused (409) while a batch runs. */
  public record UpgradeOne(String pod, ActorRef<ClientUpgrades.Outcome> replyTo)
      implements Command {}

  /** Upgrade every client of the node; the lines of the answer go to {@code lines}. */
  public record UpgradeAll(int workers, boolean ignoreError, ActorRef<Line> lines)
      implements Command {}

  /** One line of a batch's answer; {@link #END} follows the last one. */
  public record Line(String text, boolean end) {
    public static final Line END = new Line("", true);

    static Line of(String text) {
      return new Line(text, false);
    }
  }

  private record OneEnded(ActorRef<ClientUpgrades.Outcome> replyTo, ClientUpgrades.Outcome outcome)
      implements Command {}

  private record Listed(List<Described> clients, Optional<Throwable> failure) implements Command {}

  private record PodEnded(String pod, Optional<String> done, Optional<Throwable> failure)
      implements Command {}

  private enum Tick implements Command {
    INSTANCE
  }

  /** The workers a request may have: Go's cap above, at least one. */
  public static int workers(int asked) {
    return Math.min(Math.max(asked, 1), MAX_WORKERS);
  }

  public static Behavior<Command> create(ActorRef<NodeGuardian.Command> guardian, String node) {
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(timers -> new NodeUpgrades(ctx, timers, guardian, node).idle()));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final ActorRef<NodeGuardian.Command> guardian;
  private final String node;

  private NodeUpgrades(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      ActorRef<NodeGuardian.Command> guardian,
      String node) {
    this.ctx = ctx;
    this.timers = timers;
    this.guardian = guardian;
    this.node = node;
  }

  private Behavior<Command> idle() {
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case UpgradeOne one -> {
                ctx.pipeToSelf(
                    ClientUpgrades.upgrade(guardian, ctx.getSystem().scheduler(), one.pod()),
                    (outcome, error) ->
                        new OneEnded(
                            one.replyTo(),
                            outcome != null
                                ? outcome
                                : new ClientUpgrades.Outcome(
                                    503, false, ClientViews.message(error))));
                yield Behaviors.same();
              }
              case OneEnded ended -> {
                ended.replyTo().tell(ended.outcome());
                yield Behaviors.same();
              }
              case UpgradeAll all -> start(all);
              case Listed listed -> Behaviors.same();
              case PodEnded ended -> Behaviors.same();
              case Tick tick -> Behaviors.same();
            });
  }

  private Behavior<Command> start(UpgradeAll all) {
    Batch batch = new Batch(workers(all.workers()), all.ignoreError());
    batch.listeners.add(all.lines());
    say(
        batch,
        "BATCH upgrade of the clients of node "
            + node
            + ": "
            + batch.workers
            + " at a time"
            + (batch.workers != all.workers() ? " (asked " + all.workers() + ")" : "")
            + (batch.ignoreError ? ", going on past a failure" : ", stopping at a failure"));
    ctx.pipeToSelf(
        ClientViews.described(guardian, ctx.getSystem().scheduler()),
        (clients, error) ->
            new Listed(clients == null ? List.of() : clients, Optional.ofNullable(error)));
    timers.startTimerWithFixedDelay(Tick.INSTANCE, KEEPALIVE);
    return running(batch);
  }

  private Behavior<Command> running(Batch batch) {
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case UpgradeOne one -> {
                one.replyTo()
                    .tell(
                        new ClientUpgrades.Outcome(
                            409,
                            false,
                            "a batch upgrade is running on node "
                                + node
                                + ": upgrade "
                                + one.pod()
                                + " again when it has ended"));
                yield Behaviors.same();
              }
              case OneEnded ended -> {
                ended.replyTo().tell(ended.outcome());
                yield Behaviors.same();
              }
              case UpgradeAll all -> {
                // Go's second BATCH follows the running one: so does this, from its first line.
                all.lines()
                    .tell(
                        Line.of(
                            "upgrade is still running (this request's worker and ignoreError are"
                                + " not used): following it"));
                batch.said.forEach(text -> all.lines().tell(Line.of(text)));
                batch.listeners.add(all.lines());
                yield Behaviors.same();
              }
              case Listed listed -> listed(batch, listed);
              case PodEnded ended -> podEnded(batch, ended);
              case Tick tick -> {
                say(batch, "waiting for upgrade... (" + String.join(", ", batch.inFlight) + ")");
                yield Behaviors.same();
              }
            });
  }

  private Behavior<Command> listed(Batch batch, Listed listed) {
    if (listed.failure().isPresent()) {
      say(
          batch,
          "the clients of node "
              + node
              + " could not be listed: "
              + ClientViews.message(listed.failure().get()));
      batch.failed++;
      return end(batch);
    }
    say(batch, listed.clients().size() + " clients on node " + node);
    for (Described client : listed.clients()) {
      if (client.view().isPresent()) {
        batch.pending.add(client);
      } else {
        batch.skipped++;
        say(
            batch,
            "POD-SKIPPED ["
                + client.name()
                + "] its client did not answer within "
                + ClientViews.ASK_TIMEOUT.toSeconds()
                + " s (busy or stopping): not asked to upgrade");
      }
    }
    return next(batch);
  }

  private Behavior<Command> podEnded(Batch batch, PodEnded ended) {
    batch.inFlight.remove(ended.pod());
    if (ended.done().isPresent()) {
      batch.upgraded++;
      say(batch, "POD-SUCCESS [" + ended.pod() + "] " + ended.done().get());
    } else {
      Throwable cause = Failure.unwrap(ended.failure().orElseThrow());
      if (ClientUpgrades.refused(cause)) {
        batch.skipped++;
        say(batch, "POD-SKIPPED [" + ended.pod() + "] " + ClientViews.message(cause));
      } else {
        batch.failed++;
        say(batch, "POD-FAIL [" + ended.pod() + "] " + ClientViews.message(cause));
      }
    }
    return next(batch);
  }

  /**
   * Starts upgrades up to the batch's workers, or ends the batch when nothing is left to wait on.
   */
  private Behavior<Command> next(Batch batch) {
    boolean stopping = batch.failed > 0 && !batch.ignoreError;
    while (!stopping && batch.inFlight.size() < batch.workers && !batch.pending.isEmpty()) {
      Described client = batch.pending.poll();
      String pod = client.name();
      batch.inFlight.add(pod);
      say(batch, "Start to upgrade pod " + pod);
      ctx.askWithStatus(
          String.class,
          client.actor(),
          ClientUpgrades.UPGRADE_TIMEOUT,
          MountActor.Upgrade::new,
          (done, error) ->
              new PodEnded(pod, Optional.ofNullable(done), Optional.ofNullable(error)));
    }
    if (!batch.inFlight.isEmpty() || (!stopping && !batch.pending.isEmpty())) {
      return running(batch);
    }
    if (!batch.pending.isEmpty()) {
      say(
          batch,
          "not started after the failure (ignoreError goes on past one): "
              + String.join(", ", batch.pending.stream().map(Described::name).toList()));
    }
    return end(batch);
  }

  private Behavior<Command> end(Batch batch) {
    timers.cancel(Tick.INSTANCE);
    say(
        batch,
        batch.upgraded
            + " upgraded, "
            + batch.skipped
            + " skipped (cannot be upgraded), "
            + batch.failed
            + " failed, "
            + batch.pending.size()
            + " not started");
    say(
        batch,
        batch.failed == 0
            ? "BATCH-SUCCESS all pods upgrade success in node " + node
            : "BATCH-FAIL some pods upgrade failed in node " + node);
    batch.listeners.forEach(l -> l.tell(Line.END));
    return idle();
  }

  private void say(Batch batch, String text) {
    ctx.getLog().info("upgrade BATCH: {}", text);
    batch.said.add(text);
    batch.listeners.forEach(l -> l.tell(Line.of(text)));
  }

  /** A running batch: what is left, what runs, what came of the rest, and who listens. */
  private static final class Batch {
    final int workers;
    final boolean ignoreError;
    final List<ActorRef<Line>> listeners = new ArrayList<>();
    final List<String> said = new ArrayList<>();
    final Deque<Described> pending = new ArrayDeque<>();
    final Set<String> inFlight = new LinkedHashSet<>();
    int upgraded;
    int skipped;
    int failed;

    Batch(int workers, boolean ignoreError) {
      this.workers = workers;
      this.ignoreError = ignoreError;
    }
  }
}
