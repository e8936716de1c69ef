package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one informer of this node's Mount Pods (label {@code app.kubernetes.io/name=juicefs-mount},
 * field {@code spec.nodeName=<node>}, in the Mount Pod namespace): the runtime reads pods from its
 * cache, never from the API server, overlaid with the pods its own writes returned until the
 * informer catches up ({@link #latest}), and each started client's exit is reported from its events
 * (pod deleted or being deleted, failed, container restarted or terminated).
 */
final class MountPodWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MountPodWatch.class);
  private static final Duration POLL = Duration.ofMillis(50);
  private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(60);

  /** Newest first by creation time; pods without one last. */
  static final Comparator<Pod> NEWEST_FIRST =
      Comparator.comparing(
              (Pod p) -> p.getMetadata().getCreationTimestamp(),
              Comparator.nullsFirst(Comparator.naturalOrder()))
          .reversed();

  private record Watched(RunningClient client, int baseline, Consumer<ClientExit> onExit) {}

  private final SharedIndexInformer<Pod> informer;
  private final String namespace;
  private final String node;
  private final Map<String, Watched> watched = new ConcurrentHashMap<>();

  /** The last pod each of our writes returned: newer than the informer's until it catches up. */
  private final Map<String, Pod> written = new ConcurrentHashMap<>();

  /** Keys of adopted Go driver pods, by pod name (their labels do not carry our hash). */
  private final Map<String, ClientKey> goKeys = new ConcurrentHashMap<>();

  MountPodWatch(KubernetesClient client, String namespace, String node) {
    this.namespace = namespace;
    this.node = node;
    this.informer =
        client
            .pods()
            .inNamespace(namespace)
            .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
            .withField("spec.nodeName", node)
            .runnableInformer(0);
    informer.addEventHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(Pod pod) {
            check(pod, false);
          }

          @Override
          public void onUpdate(Pod old, Pod pod) {
            check(pod, false);
          }

          @Override
          public void onDelete(Pod pod, boolean unknownFinalState) {
            written.remove(pod.getMetadata().getName());
            check(pod, true);
          }
        });
    KubeClients.retryForever(informer, "the Mount Pods of node " + node);
    informer.start();
  }

  boolean synced() {
    return informer.hasSynced();
  }

  /** Another handler of this informer's events; it is told of the pods cached already first. */
  void addHandler(ResourceEventHandler<Pod> handler) {
    informer.addEventHandler(handler);
  }

  /** The cached pod named {@code name}, if the informer knows it. */
  Optional<Pod> get(String name) {
    return Optional.ofNullable(informer.getStore().getByKey(namespace + "/" + name));
  }

  /** Every cached Mount Pod of this node. */
  List<Pod> all() {
    return informer.getStore().list();
  }

  /**
   * Waits (up to a minute) until the informer has listed this node's Mount Pods.
   *
   * @throws Failure {@code UNAVAILABLE} if it has not by then
   */
  void awaitSynced() {
    long deadline = System.nanoTime() + SYNC_TIMEOUT.toNanos();
    while (!synced() && System.nanoTime() - deadline < 0) {
      pause();
    }
    if (!synced()) {
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "the Mount Pods of node " + node + " could not be listed from the API server");
    }
  }

  /** Sleeps one poll interval of a wait on this cache. */
  static void pause() {
    try {
      Thread.sleep(POLL);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(Failure.Code.ABORTED, "interrupted");
    }
  }

  /** Remembers the pod a write of ours returned (or a read after a conflict). */
  void wrote(String name, Pod pod) {
    written.put(name, pod);
  }

  /** Drops our copy of pod {@code name}: it is gone, or the informer's copy is to be used. */
  void forget(String name) {
    written.remove(name);
  }

  /** The newer of the informer's copy and the one our last write returned. */
  Optional<Pod> latest(String name) {
    Optional<Pod> cached = get(name);
    Pod mine = written.get(name);
    if (mine == null) {
      return cached;
    }
    if (cached.isEmpty()) {
      // Our write is newer than a cache that has not seen the pod yet; once the informer saw
      // the pod, its absence there means it is gone.
      return Optional.of(mine);
    }
    return Optional.of(version(mine) > version(cached.get()) ? mine : cached.get());
  }

  private static long version(Pod pod) {
    try {
      return Long.parseLong(pod.getMetadata().getResourceVersion());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Records the key of a Go driver pod, read back from its Secret. */
  void goPod(String name, ClientKey key) {
    goKeys.put(name, key);
  }

  /** This node's Mount Pods of {@code key}, newest first. */
  List<Pod> of(ClientKey key) {
    List<Pod> out = new ArrayList<>();
    for (Pod p : all()) {
      if (key.equals(keyOf(p))) {
        out.add(p);
      }
    }
    out.sort(NEWEST_FIRST);
    return out;
  }

  private ClientKey keyOf(Pod pod) {
    Map<String, String> a = PodReferences.annotations(pod);
    String hash = a.get(MountPodNames.CLIENT_HASH);
    String volume = a.get(MountPodNames.UNIQUE_ID);
    if (hash != null && volume != null) {
      return new ClientKey(volume, hash);
    }
    return goKeys.get(pod.getMetadata().getName());
  }

  /** Reports the exit of {@code client} (its pod) once, from the events that follow. */
  void watch(RunningClient client, Pod pod, Consumer<ClientExit> onExit) {
    watched.put(client.handle(), new Watched(client, restartCount(pod), onExit));
    get(client.handle())
        .ifPresentOrElse(p -> check(p, false), () -> check(pod, true)); // gone already
  }

  /** A deliberate stop: no exit report for it. */
  void unwatch(String podName) {
    watched.remove(podName);
  }

  private void check(Pod pod, boolean deleted) {
    Watched w = watched.get(pod.getMetadata().getName());
    if (w == null) {
      return;
    }
    Optional<String> why =
        deleted
            ? Optional.of("its Mount Pod " + pod.getMetadata().getName() + " was deleted")
            : exitReason(pod, w.baseline());
    if (why.isPresent() && watched.remove(pod.getMetadata().getName(), w)) {
      log.warn("client {}: {}", w.client().key(), why.get());
      w.onExit().accept(new ClientExit(w.client(), why.get()));
    }
  }

  /** Why the client of a running pod is no longer serving, if it is not. */
  static Optional<String> exitReason(Pod pod, int baseline) {
    String name = pod.getMetadata().getName();
    if (pod.getMetadata().getDeletionTimestamp() != null) {
      return Optional.of("its Mount Pod " + name + " is being deleted");
    }
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    if ("Failed".equals(phase) || "Succeeded".equals(phase)) {
      return Optional.of("its Mount Pod " + name + " ended (" + phase + ")");
    }
    Optional<ContainerStatus> status = container(pod);
    if (status.isPresent()) {
      ContainerStatus s = status.get();
      int restarts = s.getRestartCount() == null ? 0 : s.getRestartCount();
      if (restarts > baseline) {
        return Optional.of(
            "the container of Mount Pod " + name + " restarted (restart count " + restarts + ")");
      }
      if (s.getState() != null && s.getState().getTerminated() != null) {
        return Optional.of(
            "the container of Mount Pod "
                + name
                + " exited with code "
                + s.getState().getTerminated().getExitCode());
      }
      // Died, and kubelet holds its restart back (CrashLoopBackOff): the restart count grows
      // only when kubelet restarts it, which may be minutes away.
      if (s.getState() != null
          && s.getState().getWaiting() != null
          && s.getLastState() != null
          && s.getLastState().getTerminated() != null) {
        return Optional.of(
            "the container of Mount Pod "
                + name
                + " exited with code "
                + s.getLastState().getTerminated().getExitCode()
                + " and waits to be restarted ("
                + s.getState().getWaiting().getReason()
                + ")");
      }
    }
    return Optional.empty();
  }

  static Optional<ContainerStatus> container(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getContainerStatuses().stream()
        .filter(s -> MountPodNames.CONTAINER.equals(s.getName()))
        .findFirst()
        .or(() -> pod.getStatus().getContainerStatuses().stream().findFirst());
  }

  static int restartCount(Pod pod) {
    return container(pod).map(s -> s.getRestartCount() == null ? 0 : s.getRestartCount()).orElse(0);
  }

  /** Running, Ready and not being deleted. */
  static boolean runningAndReady(Pod pod) {
    if (pod.getMetadata().getDeletionTimestamp() != null
        || pod.getStatus() == null
        || !"Running".equals(pod.getStatus().getPhase())) {
      return false;
    }
    return condition(pod, "Ready").filter(c -> "True".equals(c.getStatus())).isPresent();
  }

  /** The pod's condition of {@code type}, if its status has one. */
  static Optional<PodCondition> condition(Pod pod, String type) {
    if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()))
        .findFirst();
  }

  /** When the pod was created (now, if it does not say). */
  static Instant created(Pod pod) {
    try {
      return Instant.parse(pod.getMetadata().getCreationTimestamp());
    } catch (RuntimeException e) {
      return Instant.now();
    }
  }

  /** Gone for good: deleting, failed or completed. */
  static boolean ended(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    return pod.getMetadata().getDeletionTimestamp() != null
        || "Failed".equals(phase)
        || "Succeeded".equals(phase);
  }

  @Override
  public void close() {
    informer.close();
  }
}
