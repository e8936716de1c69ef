package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * When the JuiceFS clients injected into a pod must be told to exit, as a pure function of the pod:
 * a pod that is never restarted as a whole ({@code restartPolicy} Never or OnFailure: a Job's pod)
 * completes only once every container has exited, and a client never exits on its own. So once
 * every app container is done for good while a client still runs, each running client's preStop
 * command is run in it (the Go driver's AppController does the same), the client's mount goes, the
 * client exits 0 and the pod completes.
 *
 * <p>Only {@code spec.containers} count: a client injected as a native sidecar (an init container
 * with restartPolicy Always) is stopped by kubelet itself once the app containers exit. Under
 * OnFailure an app container that failed is restarted by kubelet, so it is done only once it exited
 * 0 (the Go driver stops the client on any exit, and the restarted app then finds no mount).
 */
public final class SidecarExit {
  private SidecarExit() {}

  /**
   * The injected clients' names: {@code jfs-mount}, then {@code jfs-mount-1}, -2..., or {@code
   * jfs-mount-<claim>} for VCI.
   */
  private static final Pattern CLIENT =
      Pattern.compile(Pattern.quote(SidecarInjection.CONTAINER) + "(-.+)?");

  /** A client to stop: its container's name and the preStop command to run in it. */
  public record Stop(String container, List<String> command) {}

  /** The clients of {@code pod} to stop now, in the pod's order; empty when there is none. */
  public static List<Stop> clientsToStop(Pod pod) {
    if (pod.getSpec() == null || pod.getStatus() == null || pod.getMetadata() == null) {
      return List.of();
    }
    Map<String, String> labels =
        pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
    if (!"true".equals(labels.get(SidecarInjection.DONE_LABEL))
        || "true".equals(labels.get(SidecarInjection.DISABLE_LABEL))) {
      return List.of();
    }
    String policy = pod.getSpec().getRestartPolicy();
    if (policy == null || policy.equals("Always")) {
      return List.of(); // a service's pod: its clients live as long as it does
    }
    if (!"Running".equals(pod.getStatus().getPhase())) {
      return List.of();
    }
    Map<String, ContainerStatus> statuses = new HashMap<>();
    if (pod.getStatus().getContainerStatuses() != null) {
      pod.getStatus().getContainerStatuses().forEach(s -> statuses.put(s.getName(), s));
    }
    List<Container> clients =
        pod.getSpec().getContainers().stream().filter(SidecarExit::isClient).toList();
    List<Container> apps =
        pod.getSpec().getContainers().stream().filter(c -> !isClient(c)).toList();
    if (clients.isEmpty() || apps.isEmpty()) {
      return List.of();
    }
    boolean onFailure = policy.equals("OnFailure");
    for (Container app : apps) {
      ContainerStatus s = statuses.get(app.getName());
      if (s == null || s.getState() == null || s.getState().getTerminated() == null) {
        return List.of();
      }
      Integer exit = s.getState().getTerminated().getExitCode();
      if (onFailure && (exit == null || exit != 0)) {
        return List.of(); // kubelet runs it again: it still needs its volume
      }
    }
    return clients.stream()
        .filter(
            c -> {
              ContainerStatus s = statuses.get(c.getName());
              return s != null && s.getState() != null && s.getState().getRunning() != null;
            })
        .map(c -> new Stop(c.getName(), c.getLifecycle().getPreStop().getExec().getCommand()))
        .toList();
  }

  /** An injected client: its name, and the preStop command the webhook gave it. */
  static boolean isClient(Container c) {
    return CLIENT.matcher(c.getName()).matches()
        && c.getLifecycle() != null
        && c.getLifecycle().getPreStop() != null
        && c.getLifecycle().getPreStop().getExec() != null
        && c.getLifecycle().getPreStop().getExec().getCommand() != null
        && !c.getLifecycle().getPreStop().getExec().getCommand().isEmpty();
  }
}
