package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.SafeNames;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.MountException;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.pattern.StatusReply;

/**
 * The node side's single entry point: routes each publish to the {@link MountActor} of its client
 * (creating it on first use), each unpublish and stats call to the actor holding the target, and
 * stops clients that report themselves idle. At start it rebuilds one actor per client recorded by
 * an earlier driver.
 *
 * <p>It owns the routing table ({@link Routes}: target to client), the clients it is stopping
 * ({@link StoppingClients}) and when a failed actor is rebuilt from its record ({@link Rebuilds});
 * each actor owns its targets. An {@link MountActor.Idle} report is answered with {@link
 * MountActor.Stop} at once, and the actor has the last word: a Stop that reaches it after a call
 * that crossed the report gave it work again is answered {@link MountActor.InUse}, and the guardian
 * takes it back. Calls for a client being stopped wait until it is gone or taken back.
 */
public final class NodeGuardian extends AbstractBehavior<NodeGuardian.Command> {

  public sealed interface Command {}

  public record Publish(
      ClientKey key,
      VolumeSettings settings,
      Path target,
      boolean readOnly,
      ActorRef<StatusReply<Done>> replyTo)
      implements Command {}

  public record Unpublish(String volumeId, Path target, ActorRef<StatusReply<Done>> replyTo)
      implements Command {}

  public record VolumeStats(
      String volumeId, Path target, ActorRef<StatusReply<TargetStats>> replyTo)
      implements Command {}

  /** The clients this guardian runs, for management and tests. */
  public record ListClients(ActorRef<List<ActorRef<MountActor.Command>>> replyTo)
      implements Command {}

  private record FromClient(MountActor.Report report) implements Command {}

  private record ClientGone(ClientKey key) implements Command {}

  /** Name of the dispatcher that runs mount actors: they make blocking system calls. */
  public static final String DISPATCHER = "jfs-csi.mount-dispatcher";

  /**
   * Name of the dispatcher that gives the guardian (and the provisioner) a thread of its own:
   * routing must not wait for a thread behind mount actors that are blocked in system calls.
   */
  public static final String OWN_THREAD_DISPATCHER = "jfs-csi.pinned-dispatcher";

  private final MountRuntime runtime;
  private final Mounter mounter;
  private final ContainerRecovery containers;
  private final MountSettings settings;
  private final TargetChecks targetChecks;
  private final Clock clock;
  private final ActorRef<MountActor.Report> reports;

  private final Map<ClientKey, ActorRef<MountActor.Command>> clients = new HashMap<>();

  private final StoppingClients stopping = new StoppingClients();

  private final Routes routes = new Routes();
  private final Rebuilds rebuilds = new Rebuilds();
  private long generation;

  public static Behavior<Command> create(
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock) {
    return Behaviors.setup(
        ctx -> new NodeGuardian(ctx, runtime, mounter, containers, settings, clock));
  }

  private NodeGuardian(
      ActorContext<Command> ctx,
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      MountSettings settings,
      Clock clock) {
    super(ctx);
    this.runtime = runtime;
    this.mounter = mounter;
    this.containers = containers;
    this.settings = settings;
    this.targetChecks = new TargetChecks(settings.kubeletRoot());
    this.clock = clock;
    this.reports = ctx.messageAdapter(MountActor.Report.class, FromClient::new);
    recoverRecordedClients();
  }

  /** Rebuilds an actor for every client an earlier driver recorded on this node. */
  private void recoverRecordedClients() {
    List<ClientRecord> records = runtime.load();
    for (ClientRecord record : records) {
      try {
        recover(record);
      } catch (RuntimeException e) {
        getContext()
            .getLog()
            .error(
                "recorded client {} cannot be rebuilt; its client and "
                    + "targets are left as they are",
                record.key(),
                e);
      }
    }
    OrphanBinds.unmount(mounter, records, settings.kubeletRoot(), getContext().getLog());
  }

  private void recover(ClientRecord record) {
    VolumeSettings volume;
    try {
      volume = SettingsParser.parse(record.source());
    } catch (Failure f) {
      getContext()
          .getLog()
          .error(
              "recorded client {} cannot be parsed any more ({}); "
                  + "its client and targets are left as they are",
              record.key(),
              f.getMessage());
      return;
    }
    Map<Path, Boolean> targets = new LinkedHashMap<>();
    for (String t : record.targets()) {
      targets.put(Path.of(t), record.readOnlyTargets().contains(t));
    }
    spawn(
        record.key(),
        MountActor.recovered(
            record, volume, targets, runtime, mounter, containers, settings, clock, reports));
    targets
        .keySet()
        .forEach(
            target ->
                routes.recorded(
                    target,
                    record.key(),
                    record
                        .sharedTargets()
                        .getOrDefault(target.toString(), TargetVolume.of(volume))
                        .volumeId()));
    getContext().getLog().info("recovered client {} with {} targets", record.key(), targets.size());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder().onAnyMessage(this::handle).build();
  }

  /**
   * Handles one command; a failure in it (a child that cannot be created, a bug) fails that call
   * only: the guardian routes every volume of the node, so it must outlive any one of them.
   */
  private Behavior<Command> handle(Command command) {
    try {
      dispatch(command);
    } catch (RuntimeException e) {
      getContext()
          .getLog()
          .error(
              "the node guardian could not handle {}; that call fails, " + "the others go on",
              command.getClass().getSimpleName(),
              e);
      Failure failure = Failure.internal("the driver could not handle this call: " + e, e);
      switch (command) {
        case Publish p -> p.replyTo().tell(StatusReply.error(failure));
        case Unpublish u -> u.replyTo().tell(StatusReply.error(failure));
        case VolumeStats v -> v.replyTo().tell(StatusReply.error(failure));
        default -> {}
      }
    }
    return this;
  }

  private void dispatch(Command command) {
    switch (command) {
      case Publish p -> onPublish(p);
      case Unpublish u -> onUnpublish(u);
      case VolumeStats s -> onStats(s);
      case ListClients l -> l.replyTo().tell(List.copyOf(clients.values()));
      case FromClient(MountActor.TargetHeld held) -> routes.settle(held);
      case FromClient(MountActor.Idle idle) -> onIdle(idle.key());
      case FromClient(MountActor.InUse inUse) -> onInUse(inUse.key());
      case ClientGone gone -> onClientGone(gone.key());
    }
  }

  private void onPublish(Publish p) {
    try {
      targetChecks.publishable(p.target());
    } catch (Failure refused) {
      p.replyTo().tell(StatusReply.error(refused));
      return;
    }
    var taken = routes.takenByAnother(p.target(), p.key(), p.settings().volumeId());
    if (taken.isPresent()) {
      p.replyTo().tell(StatusReply.error(taken.get()));
      return;
    }
    if (stopping.hold(p.key(), p)) {
      return;
    }
    var quarantine = rebuilds.quarantine(p.key());
    if (quarantine.isPresent()) {
      p.replyTo()
          .tell(
              StatusReply.error(
                  new Failure(
                      Failure.Code.UNAVAILABLE,
                      "the client of "
                          + "volume "
                          + p.settings().volumeId()
                          + (p.key().volumeId().equals(p.settings().volumeId())
                              ? ""
                              : " (shared client " + p.key().volumeId() + ")")
                          + " is quarantined: "
                          + quarantine.get()
                          + "; restart the driver once the cause is fixed")));
      return;
    }
    ActorRef<MountActor.Command> client = clientFor(p.key(), p.settings());
    routes.sent(p.target(), p.key(), p.settings().volumeId());
    client.tell(
        new MountActor.AddTarget(
            p.target(), p.readOnly(), p.replyTo(), Optional.of(TargetVolume.of(p.settings()))));
  }

  private void onUnpublish(Unpublish u) {
    try {
      targetChecks.unpublishable(u.target());
    } catch (Failure refused) {
      u.replyTo().tell(StatusReply.error(refused));
      return;
    }
    ClientKey key = routes.keyOf(u.target());
    String routedVolume = routes.volumeOf(u.target());
    if (key != null && !routedVolume.equals(u.volumeId())) {
      // Another volume's target: unmounting it would take a volume away from a pod.
      u.replyTo()
          .tell(
              StatusReply.error(
                  Failure.notFound(
                      "volume "
                          + u.volumeId()
                          + " is not published at "
                          + Quoted.path(u.target())
                          + " (volume "
                          + routedVolume
                          + " is)")));
      return;
    }
    if (stopping.holdBehind(key, u.target(), u)) {
      return;
    }
    ActorRef<MountActor.Command> client = key == null ? null : clients.get(key);
    if (client != null) {
      routes.sent(u.target(), key, routedVolume);
      client.tell(new MountActor.RemoveTarget(u.target(), u.replyTo()));
      return;
    }
    // Not published by us (or no longer): someone else's mount stays where it is.
    try {
      UnownedTargets.release(mounter, u.target(), u.volumeId(), getContext().getLog());
      u.replyTo().tell(StatusReply.ack());
    } catch (MountException e) {
      u.replyTo()
          .tell(
              StatusReply.error(
                  Failure.internal(
                      "cannot unmount " + Quoted.path(u.target()) + ": " + e.getMessage(), e)));
    }
  }

  private void onStats(VolumeStats s) {
    ClientKey key = routes.keyOf(s.target());
    if (stopping.holdBehind(key, s.target(), s)) {
      return;
    }
    ActorRef<MountActor.Command> client = key == null ? null : clients.get(key);
    if (client == null || !s.volumeId().equals(routes.volumeOf(s.target()))) {
      s.replyTo()
          .tell(
              StatusReply.error(
                  Failure.notFound(
                      "volume "
                          + s.volumeId()
                          + " is not published at "
                          + Quoted.path(s.target())
                          + " on this node")));
      return;
    }
    client.tell(new MountActor.Stats(s.target(), s.replyTo()));
  }

  /**
   * The actor may go. A call that crossed the report is in its mailbox ahead of the Stop, and the
   * actor answers InUse then.
   */
  private void onIdle(ClientKey key) {
    ActorRef<MountActor.Command> client = clients.remove(key);
    if (client != null) {
      stopping.stop(key, client);
    }
  }

  /** The actor refused to stop: it got work after its idle report. Take it back. */
  private void onInUse(ClientKey key) {
    stopping
        .end(key)
        .ifPresent(
            s -> {
              clients.put(key, s.actor());
              s.waiting().forEach(this::handle);
            });
  }

  private void onClientGone(ClientKey key) {
    var stopped = stopping.end(key);
    if (stopped.isPresent()) {
      routes.dropClient(key);
      stopped.get().waiting().forEach(this::handle);
      return;
    }
    clients.remove(key);
    routes.dropClient(key);
    var tooSoon = rebuilds.failed(key, clock.instant());
    if (tooSoon.isPresent()) {
      // Rebuilding from the same record would fail the same way, over and over.
      getContext()
          .getLog()
          .error(
              "the actor of client {} failed again {} ms after it was "
                  + "rebuilt from its record; the client is quarantined: its record, process and mounts "
                  + "are left as they are and its publishes fail until the driver restarts",
              key,
              tooSoon.get().toMillis());
      return;
    }
    // The actor failed: its references are in the runtime's record, so rebuild it from there.
    // Calls it had not answered are lost (their callers time out and retry): forget them.
    getContext()
        .getLog()
        .error("the actor of client {} failed; rebuilding it from its record", key);
    runtime.load().stream().filter(r -> r.key().equals(key)).findFirst().ifPresent(this::recover);
  }

  private ActorRef<MountActor.Command> clientFor(ClientKey key, VolumeSettings volume) {
    ActorRef<MountActor.Command> client = clients.get(key);
    if (client == null) {
      client =
          spawn(
              key,
              MountActor.create(
                  key, volume, runtime, mounter, containers, settings, clock, reports));
    }
    return client;
  }

  private ActorRef<MountActor.Command> spawn(ClientKey key, Behavior<MountActor.Command> b) {
    ActorRef<MountActor.Command> ref =
        getContext()
            .spawn(
                Behaviors.supervise(b).onFailure(SupervisorStrategy.stop()),
                "client-" + SafeNames.of(key) + "-" + (++generation),
                DispatcherSelector.fromConfig(DISPATCHER));
    getContext().watchWith(ref, new ClientGone(key));
    clients.put(key, ref);
    return ref;
  }
}
