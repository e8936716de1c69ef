package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.jfscsi.client.StartProgress;
import io.jfscsi.juicefs.Redactor;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * What a Mount Pod that does not serve yet waits on, read from the status that kubelet and the
 * scheduler write: the pod's name and phase, why it is not scheduled, each container's waiting
 * reason and message, the end of its last run. This is the text a publish answers with when it
 * cannot wait for the pod any longer, so the user sees the cause in the app pod's events.
 */
final class MountPodProgress {
  private MountPodProgress() {}

  /**
   * Waiting reasons that kubelet retries only on a backoff of minutes, or that need someone to act
   * (an image name or pull secret, a missing Secret or ConfigMap, a client that crashes).
   */
  static final Set<String> STUCK_REASONS =
      Set.of(
          "ErrImagePull",
          "ImagePullBackOff",
          "InvalidImageName",
          "ErrImageNeverPull",
          "RegistryUnavailable",
          "CreateContainerConfigError",
          "CreateContainerError",
          "RunContainerError",
          "CrashLoopBackOff");

  /** Characters of one message of kubelet's (or of a termination message) that are shown. */
  static final int SHOWN = 400;

  /** What {@code pod}, whose client should mount at {@code mountPath}, waits on now. */
  static StartProgress of(Pod pod, Path mountPath, Redactor redactor) {
    StringBuilder text = new StringBuilder("Mount Pod ").append(pod.getMetadata().getName());
    PodStatus status = pod.getStatus();
    String phase = status == null || status.getPhase() == null ? "Pending" : status.getPhase();
    text.append(" is ").append(phase);
    if (pod.getMetadata().getDeletionTimestamp() != null) {
      text.append(" and being deleted");
    }
    boolean stuck = false;
    if (status != null && status.getReason() != null) {
      text.append(" (").append(status.getReason()).append(message(status.getMessage())).append(')');
    }
    Optional<PodCondition> unscheduled =
        MountPodWatch.condition(pod, "PodScheduled").filter(c -> "False".equals(c.getStatus()));
    if (unscheduled.isPresent()) {
      stuck = true;
      text.append("; not scheduled: ")
          .append(Optional.ofNullable(unscheduled.get().getReason()).orElse("no reason given"))
          .append(message(unscheduled.get().getMessage()));
    }
    List<ContainerStatus> containers =
        status == null
            ? List.of()
            : concat(status.getInitContainerStatuses(), status.getContainerStatuses());
    for (ContainerStatus c : containers) {
      stuck |= describe(c, text);
    }
    if (MountPodWatch.runningAndReady(pod)) {
      text.append("; it is Ready, but its mount at ")
          .append(mountPath)
          .append(" does not answer on this host yet");
    }
    return new StartProgress(redactor.redact(text.toString()), stuck);
  }

  /** Appends what container {@code c} does when that holds the pod back; true when stuck. */
  private static boolean describe(ContainerStatus c, StringBuilder text) {
    int restarts = c.getRestartCount() == null ? 0 : c.getRestartCount();
    boolean stuck = false;
    var state = c.getState();
    if (state != null && state.getWaiting() != null) {
      String reason = state.getWaiting().getReason();
      stuck = reason != null && STUCK_REASONS.contains(reason);
      text.append("; container ")
          .append(c.getName())
          .append(" is waiting: ")
          .append(reason == null ? "no reason given" : reason)
          .append(message(state.getWaiting().getMessage()));
    } else if (state != null
        && state.getTerminated() != null
        && !Integer.valueOf(0).equals(state.getTerminated().getExitCode())) {
      text.append("; container ")
          .append(c.getName())
          .append(" exited with code ")
          .append(state.getTerminated().getExitCode())
          .append(tail(state.getTerminated().getMessage()));
    } else if (state != null && state.getRunning() != null && !Boolean.TRUE.equals(c.getReady())) {
      text.append("; container ").append(c.getName()).append(" runs but is not Ready");
    }
    var last = c.getLastState() == null ? null : c.getLastState().getTerminated();
    if (restarts > 0 && last != null) {
      text.append("; it restarted ")
          .append(restarts)
          .append(restarts == 1 ? " time" : " times")
          .append(", its last run ended with exit code ")
          .append(last.getExitCode())
          .append(last.getReason() == null ? "" : " (" + last.getReason() + ")")
          .append(tail(last.getMessage()));
    }
    return stuck;
  }

  private static List<ContainerStatus> concat(
      List<ContainerStatus> init, List<ContainerStatus> main) {
    return Stream.of(init, main).filter(l -> l != null).flatMap(List::stream).toList();
  }

  /** ": message", its head kept, on one line; "" when there is none. */
  private static String message(String message) {
    String flat = oneLine(message);
    if (flat.isEmpty()) {
      return "";
    }
    return ": " + (flat.length() <= SHOWN ? flat : flat.substring(0, SHOWN) + "...");
  }

  /** ": ...end of a termination message", on one line: the last lines say why it ended. */
  private static String tail(String message) {
    String flat = oneLine(message);
    if (flat.isEmpty()) {
      return "";
    }
    return ": " + (flat.length() <= SHOWN ? flat : "..." + flat.substring(flat.length() - SHOWN));
  }

  private static String oneLine(String message) {
    if (message == null) {
      return "";
    }
    return message.strip().replaceAll("\\s*[\\r\\n]+\\s*", " | ").replaceAll("\\p{Cntrl}", " ");
  }

  /**
   * Tells one start's listener what its pod waits on, each time that changes. Used by the one
   * thread that waits for the pod.
   */
  static final class Reporter {
    private final Consumer<StartProgress> listener;
    private final Redactor redactor;
    private StartProgress last;

    Reporter(Consumer<StartProgress> listener, Redactor redactor) {
      this.listener = listener;
      this.redactor = redactor;
    }

    void look(Pod pod, Path mountPath) {
      StartProgress now = of(pod, mountPath, redactor);
      if (!now.equals(last)) {
        last = now;
        listener.accept(now);
      }
    }
  }
}
