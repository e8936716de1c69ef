package io.jfscsi.doctor;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.doctor.Verdict.Side;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** How the doctor reads and names the Kubernetes objects it walks. */
final class KubeObjects {

  private KubeObjects() {}

  static Optional<String> lastEventMessage(
      List<Event> events, String kind, String name, String reason) {
    Optional<String> last = Optional.empty();
    for (Event e : events) {
      var involved = e.getInvolvedObject();
      if (involved != null
          && kind.equals(involved.getKind())
          && name.equals(involved.getName())
          && reason.equals(e.getReason())) {
        last = Optional.ofNullable(e.getMessage());
      }
    }
    return last;
  }

  static List<ContainerStatus> statuses(Pod pod) {
    return pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null
        ? List.of()
        : pod.getStatus().getContainerStatuses();
  }

  static boolean isReady(ContainerStatus cs) {
    return Boolean.TRUE.equals(cs.getReady());
  }

  static boolean isRunningAndReady(Pod pod) {
    return pod.getStatus() != null
        && "Running".equals(pod.getStatus().getPhase())
        && !statuses(pod).isEmpty()
        && statuses(pod).stream().allMatch(KubeObjects::isReady);
  }

  static String podPhase(Pod pod) {
    StringBuilder s =
        new StringBuilder(
            pod.getStatus() == null || pod.getStatus().getPhase() == null
                ? "Pending"
                : pod.getStatus().getPhase());
    if (pod.getSpec().getNodeName() != null) {
      s.append(" on node ").append(pod.getSpec().getNodeName());
    }
    for (ContainerStatus cs : statuses(pod)) {
      if (cs.getState() != null && cs.getState().getWaiting() != null) {
        s.append(", ")
            .append(cs.getName())
            .append(" waiting: ")
            .append(cs.getState().getWaiting().getReason());
      }
      if (Optional.ofNullable(cs.getRestartCount()).orElse(0) > 0) {
        s.append(", ")
            .append(cs.getName())
            .append(" restarted ")
            .append(cs.getRestartCount())
            .append(" times");
      }
    }
    if (pod.getMetadata().getDeletionTimestamp() != null) {
      s.append(", deleting");
    }
    return s.toString();
  }

  static String phase(PersistentVolumeClaim pvc) {
    return pvc.getStatus() == null || pvc.getStatus().getPhase() == null
        ? "Pending"
        : pvc.getStatus().getPhase();
  }

  static String lastLines(String text, int n) {
    String[] lines = text.split("\n");
    return String.join(
        " | ", Arrays.copyOfRange(lines, Math.max(0, lines.length - n), lines.length));
  }

  static String ref(Pod pod) {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  static String name(HasMetadata o) {
    return o.getMetadata().getName();
  }

  static Verdict verdict(Side side, String cause, List<String> evidence, String... hints) {
    return new Verdict(side, cause, List.copyOf(evidence), List.of(hints));
  }
}
