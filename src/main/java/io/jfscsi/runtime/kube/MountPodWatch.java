package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.jfscsi.runtime.ClientExit;
import io.jfscsi.runtime.RunningClient;
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
 * cache, never from the API server, and each started client's exit is reported from its events
 * (pod deleted or being deleted, failed, container restarted or terminated).
 */
final class MountPodWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MountPodWatch.class);

  private record Watched(RunningClient client, int baseline, Consumer<ClientExit> onExit) {}

  private final SharedIndexInformer<Pod> informer;
  private final String namespace;
  private final Map<String, Watched> watched = new ConcurrentHashMap<>();

  MountPodWatch(KubernetesClient client, String namespace, String node, Consumer<String> deleted) {
    this.namespace = namespace;
    this.informer = client.pods().inNamespace(namespace)
        .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
        .withField("spec.nodeName", node)
        .runnableInformer(0);
    informer.addEventHandler(new ResourceEventHandler<>() {
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
        deleted.accept(pod.getMetadata().getName());
        check(pod, true);
      }
    });
    informer.start();
  }

  boolean synced() {
    return informer.hasSynced();
  }

  /** The cached pod named {@code name}, if the informer knows it. */
  Optional<Pod> get(String name) {
    return Optional.ofNullable(informer.getStore().getByKey(namespace + "/" + name));
  }

  /** Every cached Mount Pod of this node. */
  List<Pod> all() {
    return informer.getStore().list();
  }

  /** Reports the exit of {@code client} (its pod) once, from the events that follow. */
  void watch(RunningClient client, Pod pod, Consumer<ClientExit> onExit) {
    watched.put(client.handle(), new Watched(client, restartCount(pod), onExit));
    get(client.handle()).ifPresentOrElse(p -> check(p, false),
        () -> check(pod, true)); // gone already
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
    Optional<String> why = deleted ? Optional.of("its Mount Pod " + pod.getMetadata().getName()
        + " was deleted") : exitReason(pod, w.baseline());
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
        return Optional.of("the container of Mount Pod " + name + " restarted (restart count "
            + restarts + ")");
      }
      if (s.getState() != null && s.getState().getTerminated() != null) {
        return Optional.of("the container of Mount Pod " + name + " exited with code "
            + s.getState().getTerminated().getExitCode());
      }
    }
    return Optional.empty();
  }

  static Optional<ContainerStatus> container(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getContainerStatuses().stream()
        .filter(s -> MountPodNames.CONTAINER.equals(s.getName())).findFirst()
        .or(() -> pod.getStatus().getContainerStatuses().stream().findFirst());
  }

  static int restartCount(Pod pod) {
    return container(pod).map(s -> s.getRestartCount() == null ? 0 : s.getRestartCount()).orElse(0);
  }

  /** Running, Ready and not being deleted. */
  static boolean runningAndReady(Pod pod) {
    if (pod.getMetadata().getDeletionTimestamp() != null || pod.getStatus() == null
        || !"Running".equals(pod.getStatus().getPhase())) {
      return false;
    }
    return pod.getStatus().getConditions() != null && pod.getStatus().getConditions().stream()
        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** Gone for good: deleting, failed or completed. */
  static boolean ended(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    return pod.getMetadata().getDeletionTimestamp() != null || "Failed".equals(phase)
        || "Succeeded".equals(phase);
  }

  @Override
  public void close() {
    informer.close();
  }
}
