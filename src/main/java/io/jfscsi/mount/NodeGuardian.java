package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.SafeNames;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountException;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * <p>It owns the routing table (target to client) and nothing else; each actor owns its references.
 * A route counts the publishes and unpublishes sent to the actor and not yet answered by its {@link
 * MountActor.TargetHeld} report; only the answer to the last of them may release the route, so a
 * report that crosses newer calls for the same target never loses them, and an idle report that
 * crosses a publish on its way is ignored. The actor has the last word: a {@link MountActor.Stop}
 * that reaches it after it got work again is answered {@link MountActor.InUse}, and the guardian
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

  /** A client told to stop, and the calls for it that wait until it is gone or taken back. */
  private record Stopping(ActorRef<MountActor.Command> actor, List<Command> waiting) {}

  private final Map<ClientKey, Stopping> stopping = new HashMap<>();

  /** Where a target is routed, and how many calls for it the actor has not answered yet. */
  private record Route(ClientKey key, int inFlight) {}

  private final Map<Path, Route> routes = new HashMap<>();
  private long generation;

  /** When each client's actor was last rebuilt from its record after a failure. */
  private final Map<ClientKey, Instant> rebuiltAt = new HashMap<>();

  /** Clients whose actor failed again soon after a rebuild: left alone until a restart. */
  private final Map<ClientKey, String> quarantined = new HashMap<>();

  /** An actor that fails again this soon after its rebuild would only fail in a loop. */
  static final Duration REBUILD_GRACE = Duration.ofMinutes(1);

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
    unmountOrphans(records);
  }

  /**
   * Binds of a recorded client's file system under the kubelet root that no record references: a
   * publish cut short by a driver crash between its bind and its record, or an unpublish lost with
   * the driver. Nothing else is touched: other drivers' mounts have other devices.
   */
  private void unmountOrphans(List<ClientRecord> records) {
    Set<Path> clientMounts = new HashSet<>();
    Set<Path> referenced = new HashSet<>();
    for (ClientRecord r : records) {
      r.running().ifPresent(c -> clientMounts.add(c.mountPath()));
      r.targets().forEach(t -> referenced.add(Path.of(t)));
    }
    List<MountEntry> table = mounter.mounts();
    Set<String> devices = new HashSet<>();
    table.stream()
        .filter(m -> clientMounts.contains(m.mountPoint()))
        .forEach(m -> devices.add(m.device()));
    for (MountEntry m : table) {
      if (devices.contains(m.device())
          && m.mountPoint().startsWith(settings.kubeletRoot())
          && !referenced.contains(m.mountPoint())) {
        try {
          mounter.unmount(m.mountPoint());
          getContext()
              .getLog()
              .warn(
                  "unmounted {}: a bind of a client of this node that no "
                      + "record references (publish or unpublish cut short by a driver crash)",
                  m.mountPoint());
        } catch (MountException e) {
          getContext()
              .getLog()
              .error("cannot unmount the orphan bind {}: {}", m.mountPoint(), e.getMessage());
        }
      }
    }
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
    targets.keySet().forEach(target -> routes.put(target, new Route(record.key(), 0)));
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
      case FromClient(MountActor.TargetHeld held) -> onTargetHeld(held);
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
    ClientKey routed = routedKey(p.target());
    if (routed != null && !routed.equals(p.key())) {
      p.replyTo()
          .tell(
              StatusReply.error(
                  Failure.alreadyExists(
                      routed.volumeId().equals(p.key().volumeId())
                          ? "target "
                              + Quoted.path(p.target())
                              + " is already published for volume "
                              + p.key().volumeId()
                              + " with other settings (secret, mount options or volume attributes changed); "
                              + "unpublish it first"
                          : "target "
                              + Quoted.path(p.target())
                              + " is already published for volume "
                              + routed.volumeId())));
      return;
    }
    if (stopping.containsKey(p.key())) {
      stopping.get(p.key()).waiting().add(p);
      return;
    }
    if (quarantined.containsKey(p.key())) {
      p.replyTo()
          .tell(
              StatusReply.error(
                  new Failure(
                      Failure.Code.UNAVAILABLE,
                      "the client of "
                          + "volume "
                          + p.key().volumeId()
                          + " is quarantined: "
                          + quarantined.get(p.key())
                          + "; restart the driver once the cause is fixed")));
      return;
    }
    ActorRef<MountActor.Command> client = clientFor(p.key(), p.settings());
    sent(p.target(), p.key());
    client.tell(new MountActor.AddTarget(p.target(), p.readOnly(), p.replyTo()));
  }

  private void onUnpublish(Unpublish u) {
    try {
      targetChecks.unpublishable(u.target());
    } catch (Failure refused) {
      u.replyTo().tell(StatusReply.error(refused));
      return;
    }
    ClientKey key = routedKey(u.target());
    if (key != null && !key.volumeId().equals(u.volumeId())) {
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
                          + key.volumeId()
                          + " is)")));
      return;
    }
    Stopping behind = waitingFor(key, u.target());
    if (behind != null) {
      behind.waiting().add(u);
      return;
    }
    ActorRef<MountActor.Command> client = key == null ? null : clients.get(key);
    if (client != null) {
      sent(u.target(), key);
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
    ClientKey key = routedKey(s.target());
    Stopping behind = waitingFor(key, s.target());
    if (behind != null) {
      behind.waiting().add(s);
      return;
    }
    ActorRef<MountActor.Command> client = key == null ? null : clients.get(key);
    if (client == null || !key.volumeId().equals(s.volumeId())) {
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

  private void onTargetHeld(MountActor.TargetHeld held) {
    Route route = routes.get(held.target());
    if (route == null || !route.key().equals(held.key())) {
      return; // the client was replaced since: its routes were dropped with it
    }
    int inFlight = held.answer() ? Math.max(0, route.inFlight() - 1) : route.inFlight();
    if (inFlight == 0 && !held.held()) {
      routes.remove(held.target());
    } else {
      // Held, or a newer call is on its way: that call's answer settles the route.
      routes.put(held.target(), new Route(route.key(), inFlight));
    }
  }

  /** Counts a publish or unpublish sent to the actor of {@code key} for {@code target}. */
  private void sent(Path target, ClientKey key) {
    Route route = routes.get(target);
    routes.put(target, new Route(key, route == null ? 1 : route.inFlight() + 1));
  }

  /**
   * The stopping client a call for {@code target} must wait behind so that it keeps its order: the
   * one it is routed to, or one that holds a publish of it (such a publish has no route yet).
   */
  private Stopping waitingFor(ClientKey routed, Path target) {
    if (routed != null) {
      return stopping.get(routed);
    }
    for (Stopping s : stopping.values()) {
      if (s.waiting().stream().anyMatch(c -> c instanceof Publish p && p.target().equals(target))) {
        return s;
      }
    }
    return null;
  }

  private ClientKey routedKey(Path target) {
    Route route = routes.get(target);
    return route == null ? null : route.key();
  }

  private boolean routesTo(ClientKey key) {
    return routes.values().stream().anyMatch(r -> r.key().equals(key));
  }

  private void onIdle(ClientKey key) {
    if (routesTo(key)) {
      return; // a publish is on its way to it: it is not idle after all
    }
    ActorRef<MountActor.Command> client = clients.remove(key);
    if (client != null) {
      stopping.put(key, new Stopping(client, new ArrayList<>()));
      client.tell(new MountActor.Stop());
    }
  }

  /** The actor refused to stop: it got work after its idle report. Take it back. */
  private void onInUse(ClientKey key) {
    Stopping s = stopping.remove(key);
    if (s != null) {
      clients.put(key, s.actor());
      s.waiting().forEach(this::handle);
    }
  }

  private void onClientGone(ClientKey key) {
    Stopping s = stopping.remove(key);
    if (s != null) {
      routes.values().removeIf(r -> r.key().equals(key));
      s.waiting().forEach(this::handle);
      return;
    }
    clients.remove(key);
    routes.values().removeIf(r -> r.key().equals(key));
    Instant now = clock.instant();
    Instant last = rebuiltAt.get(key);
    if (last != null && now.isBefore(last.plus(REBUILD_GRACE))) {
      // Rebuilding from the same record would fail the same way, over and over.
      quarantined.put(
          key,
          "its actor failed again within "
              + REBUILD_GRACE.toSeconds()
              + " s of being rebuilt from its record");
      getContext()
          .getLog()
          .error(
              "the actor of client {} failed again {} ms after it was "
                  + "rebuilt from its record; the client is quarantined: its record, process and mounts "
                  + "are left as they are and its publishes fail until the driver restarts",
              key,
              Duration.between(last, now).toMillis());
      return;
    }
    // The actor failed: its references are in the runtime's record, so rebuild it from there.
    // Calls it had not answered are lost (their callers time out and retry): forget them.
    getContext()
        .getLog()
        .error("the actor of client {} failed; rebuilding it from its record", key);
    rebuiltAt.put(key, now);
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
