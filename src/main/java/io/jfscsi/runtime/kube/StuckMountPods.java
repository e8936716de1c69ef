package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.jfscsi.host.FuseConnections;
import io.jfscsi.host.MountEntry;
import io.jfscsi.runtime.kube.configmap.Switches;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's Mount Pods that stay Terminating ({@link StuckMountPod}): a client whose FUSE
 * connection no longer answers can leave a process of its container in uninterruptible sleep, and
 * then kubelet can never stop it. With {@code enableAutoAbortStuckMountPod} such a pod's connection
 * is aborted through fusectl ({@link FuseConnections}), which ends the waiting requests, so the
 * container exits and the pod goes; without it the pod is named once in the log. The Go driver runs
 * a Job for the abort; the node plugin is privileged and writes the file itself.
 *
 * <p>A connection is known by the minor device number of its mount, recorded from this node's mount
 * table while the pod's mount point is mounted (the driver unmounts it after the pod's grace
 * period, before the pod counts as stuck).
 */
final class StuckMountPods implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StuckMountPods.class);
  static final String ABORTED = "JuiceFSConnectionAborted";

  /** How often a stuck pod that was not aborted is looked at again (the switch may change). */
  static final Duration RECHECK = Duration.ofMinutes(1);

  private final MountPodWatch pods;
  private final Supplier<Switches> switches;
  private final FuseConnections fuse;
  private final Supplier<List<MountEntry>> mountTable;
  private final KubernetesClient client;
  private final String node;
  private final Executor executor;
  private final Clock clock;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("jfs-stuck-mount-pods").factory());

  /** The connection of each pod, by name, recorded while its mount point was mounted. */
  private final Map<String, Integer> connections = new ConcurrentHashMap<>();

  /** Pods being deleted that have a check scheduled. */
  private final Set<String> checked = ConcurrentHashMap.newKeySet();

  /** What was said about each pod ("pod/verdict"), so a recheck does not say it again. */
  private final Set<String> told = ConcurrentHashMap.newKeySet();

  StuckMountPods(
      MountPodWatch pods,
      Supplier<Switches> switches,
      FuseConnections fuse,
      Supplier<List<MountEntry>> mountTable,
      KubernetesClient client,
      String node,
      Executor executor,
      Clock clock) {
    this.pods = pods;
    this.switches = switches;
    this.fuse = fuse;
    this.mountTable = mountTable;
    this.client = client;
    this.node = node;
    this.executor = executor;
    this.clock = clock;
    pods.addHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(Pod pod) {
            seen(pod);
          }

          @Override
          public void onUpdate(Pod old, Pod pod) {
            seen(pod);
          }

          @Override
          public void onDelete(Pod pod, boolean unknownFinalState) {
            gone(pod.getMetadata().getName());
          }
        });
  }

  void seen(Pod pod) {
    String name = pod.getMetadata().getName();
    Optional<StuckMountPod> deletion = StuckMountPod.of(pod);
    if (!connections.containsKey(name) || (deletion.isPresent() && !checked.contains(name))) {
      // The last look while it is surely mounted: once it is deleted, the driver unmounts it.
      MountPodRemoval.mountPathOf(pod)
          .flatMap(p -> optional(FuseConnections.connectionAt(mountTable.get(), p)))
          .ifPresent(minor -> connections.put(name, minor));
    }
    deletion.ifPresent(
        d -> {
          if (checked.add(name)) {
            schedule(name, d.stuckAt());
          }
        });
  }

  void gone(String name) {
    connections.remove(name);
    checked.remove(name);
    told.removeIf(t -> t.startsWith(name + "/"));
  }

  private void schedule(String name, Instant at) {
    long delay = Math.max(0, Duration.between(clock.instant(), at).toMillis());
    try {
      timer.schedule(() -> check(name), delay, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed: the driver stops
    }
  }

  /** Looks at pod {@code name} once it may be stuck, and acts on the verdict. */
  void check(String name) {
    try {
      Optional<Pod> pod = pods.get(name);
      Optional<StuckMountPod> deletion = pod.flatMap(StuckMountPod::of);
      if (deletion.isEmpty() || !checked.contains(name)) {
        return; // gone
      }
      Optional<Path> mountPath = MountPodRemoval.mountPathOf(pod.get());
      OptionalInt connection = connectionOf(name, mountPath);
      boolean enabled = switches.get().enableAutoAbortStuckMountPod();
      OptionalLong waiting = OptionalLong.empty();
      if (enabled && connection.isPresent()) {
        waiting = fuse.waiting(connection.getAsInt());
      }
      long w = waiting.orElse(-1);
      act(
          pod.get(),
          deletion.get(),
          mountPath,
          connection,
          deletion.get().decide(clock.instant(), enabled, connection, () -> w));
    } catch (IOException | RuntimeException e) {
      tellOnce(
          name,
          "failed",
          () ->
              log.error(
                  "Mount Pod {} is stuck Terminating and its FUSE connection could not be read or"
                      + " aborted through {}: {}",
                  name,
                  fuse.dir(),
                  e.toString()));
      schedule(name, clock.instant().plus(RECHECK));
    }
  }

  private void act(
      Pod pod,
      StuckMountPod deletion,
      Optional<Path> mountPath,
      OptionalInt connection,
      StuckMountPod.Verdict verdict)
      throws IOException {
    String name = deletion.name();
    String since =
        "deleted at " + deletion.deletedAt() + ", grace " + deletion.grace().toSeconds() + "s";
    switch (verdict) {
      case StuckMountPod.Verdict.NotYet(Instant at) -> schedule(name, at);
      case StuckMountPod.Verdict.SwitchOff() -> {
        tellOnce(
            name,
            "off",
            () ->
                log.warn(
                    "Mount Pod {} is stuck Terminating ({}); its FUSE connection{} is left alone:"
                        + " enableAutoAbortStuckMountPod is off in the global ConfigMap",
                    name,
                    since,
                    connection.isPresent() ? " " + connection.getAsInt() : ""));
        schedule(name, clock.instant().plus(RECHECK));
      }
      case StuckMountPod.Verdict.NoConnection() -> {
        tellOnce(
            name,
            "unknown",
            () ->
                log.warn(
                    "Mount Pod {} is stuck Terminating ({}), but its FUSE connection is not known: its"
                        + " mount point {} was not seen mounted on this node (or its number is another"
                        + " mount's now); nothing is aborted",
                    name,
                    since,
                    mountPath.map(Path::toString).orElse("(none)")));
        schedule(name, clock.instant().plus(RECHECK));
      }
      case StuckMountPod.Verdict.NothingWaiting(long waiting) -> {
        tellOnce(
            name,
            "idle",
            () ->
                log.warn(
                    "Mount Pod {} is stuck Terminating ({}), but no request waits on its FUSE connection"
                        + " {}: not aborted, the client is not what holds it",
                    name,
                    since,
                    connection.getAsInt()));
        schedule(name, clock.instant().plus(RECHECK));
      }
      case StuckMountPod.Verdict.Abort(int minor, long waiting) -> {
        fuse.abort(minor);
        String message =
            "Mount Pod stuck Terminating ("
                + since
                + ") with "
                + waiting
                + " requests waiting on its FUSE connection "
                + minor
                + ": the connection was aborted (enableAutoAbortStuckMountPod)";
        log.warn("{}: {}", name, message);
        told.add(name + "/idle"); // still there after the abort: said once, as idle
        executor.execute(() -> post(pod, message));
        schedule(name, clock.instant().plus(RECHECK));
      }
    }
  }

  /** The pod's connection: its mount now, else the one recorded unless that number moved on. */
  private OptionalInt connectionOf(String name, Optional<Path> mountPath) {
    List<MountEntry> table = mountTable.get();
    OptionalInt now =
        mountPath.map(p -> FuseConnections.connectionAt(table, p)).orElse(OptionalInt.empty());
    if (now.isPresent()) {
      return now;
    }
    Integer recorded = connections.get(name);
    if (recorded == null || FuseConnections.mountPointOf(table, recorded).isPresent()) {
      return OptionalInt.empty();
    }
    return OptionalInt.of(recorded);
  }

  private void tellOnce(String name, String what, Runnable say) {
    if (told.add(name + "/" + what)) {
      say.run();
    }
  }

  private void post(Pod pod, String message) {
    try {
      client
          .v1()
          .events()
          .inNamespace(pod.getMetadata().getNamespace())
          .resource(
              KubeEvents.of(
                  pod, ABORTED, "Warning", message, KubeEvents.NODE_COMPONENT, node, clock))
          .create();
    } catch (KubernetesClientException e) {
      log.warn(
          "cannot post the Event of the abort on {}: {}",
          pod.getMetadata().getName(),
          e.getMessage());
    }
  }

  private static Optional<Integer> optional(OptionalInt value) {
    return value.isPresent() ? Optional.of(value.getAsInt()) : Optional.empty();
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
