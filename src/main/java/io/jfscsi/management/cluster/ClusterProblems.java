package io.jfscsi.management.cluster;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.management.cluster.NodeReports.NodeReport;
import io.jfscsi.runtime.kube.MountPodNames;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The cluster page's rules for "unhealthy now", over what {@link ClusterPicture} found to be this
 * driver's: each problem in words, where it is, and whom the doctor is asked about it.
 */
final class ClusterProblems {

  /**
   * A claim or pod Pending, or a Mount Pod not Ready, counts as a problem after this long: a
   * healthy start takes seconds (docs/performance.md, "On the real node": 2-8 s).
   */
  static final Duration GRACE = Duration.ofSeconds(20);

  /** A Mount Pod whose client restarted within this window is shown as a warning. */
  static final Duration RECENT_RESTART = Duration.ofMinutes(10);

  /** Client states a node reports while the client's mounts are stale (the ClientDown alert's). */
  static final Set<String> STALE_STATES = Set.of("BROKEN", "RESTARTING");

  /** Whom the doctor is asked about a problem: a pod or a claim. */
  record DoctorSubject(boolean pod, String namespace, String name) {
    @Override
    public String toString() {
      return (pod ? "pod " : "pvc ") + namespace + "/" + name;
    }
  }

  /** A problem seen on the cluster; {@code subject} is what the doctor is asked, if anything. */
  record Problem(
      String severity,
      String kind,
      String node,
      String volume,
      String what,
      Optional<DoctorSubject> subject) {}

  private final ClusterPicture p;

  ClusterProblems(ClusterPicture picture) {
    this.p = picture;
  }

  List<Problem> find() {
    List<Problem> found = new ArrayList<>();
    for (Map.Entry<String, NodeReport> e : p.in.reports().entrySet()) {
      NodeReport r = e.getValue();
      if (r.error().isPresent()) {
        found.add(
            new Problem(
                "warning",
                "node-plugin-unreachable",
                e.getKey(),
                null,
                "the node plugin of "
                    + e.getKey()
                    + " did not answer "
                    + r.url()
                    + ": "
                    + r.error().get()
                    + " (its clients' health is unknown)",
                Optional.empty()));
      }
      for (Map<String, Object> client : r.clients()) {
        String state = String.valueOf(client.get("state"));
        if (STALE_STATES.contains(state)) {
          String volumeId = String.valueOf(client.get("volumeId"));
          Optional<PersistentVolume> pv = p.volumeByHandle(volumeId);
          int targets = client.get("targets") instanceof List<?> l ? l.size() : 0;
          found.add(
              new Problem(
                  "critical",
                  "stale-mount",
                  e.getKey(),
                  pv.map(v -> v.getMetadata().getName()).orElse(volumeId),
                  "node "
                      + e.getKey()
                      + " reports the client of volume "
                      + volumeId
                      + " "
                      + state
                      + ": its "
                      + targets
                      + " mount"
                      + (targets == 1 ? " is" : "s are")
                      + " stale until it serves again"
                      + Optional.ofNullable(client.get("lastError"))
                          .map(err -> " (last error: " + err + ")")
                          .orElse(""),
                  pv.flatMap(p::claimSubject)));
        }
      }
    }
    for (Pod mp : p.mountPods) {
      String node = mp.getSpec().getNodeName();
      Optional<PersistentVolume> pv = p.volumeOfMountPod(mp);
      String volume =
          pv.map(v -> v.getMetadata().getName())
              .orElse(ClusterPicture.label(mp, MountPodNames.VOLUME_ID_LABEL).orElse(null));
      Optional<DoctorSubject> subject = pv.flatMap(p::claimSubject);
      List<ContainerStatus> statuses = ClusterPicture.statuses(mp);
      Optional<String> crashLoop =
          statuses.stream()
              .filter(
                  s ->
                      s.getState() != null
                          && s.getState().getWaiting() != null
                          && s.getState().getWaiting().getReason() != null)
              .map(s -> s.getState().getWaiting().getReason())
              .filter(r -> !r.equals("ContainerCreating") && !r.equals("PodInitializing"))
              .findFirst();
      int restarts = ClusterPicture.restarts(statuses);
      if (mp.getMetadata().getDeletionTimestamp() != null) {
        continue; // on its way out: Terminating is shown on its row
      }
      if (crashLoop.isPresent()) {
        found.add(
            new Problem(
                "critical",
                "mount-pod-restarting",
                node,
                volume,
                "Mount Pod "
                    + ClusterPicture.ref(mp)
                    + " is waiting: "
                    + crashLoop.get()
                    + " ("
                    + restarts
                    + " restarts)",
                subject));
      } else if (!ClusterPicture.ready(mp)
          && olderThanGrace(mp.getMetadata().getCreationTimestamp())) {
        found.add(
            new Problem(
                "critical",
                "mount-pod-not-ready",
                node,
                volume,
                "Mount Pod "
                    + ClusterPicture.ref(mp)
                    + " is "
                    + Optional.ofNullable(mp.getStatus()).map(s -> s.getPhase()).orElse("Pending")
                    + " and not Ready since "
                    + mp.getMetadata().getCreationTimestamp(),
                subject));
      } else if (restarts > 0) {
        Optional<Instant> last = lastTermination(statuses);
        if (last.isPresent() && last.get().isAfter(p.in.now().minus(RECENT_RESTART))) {
          found.add(
              new Problem(
                  "warning",
                  "mount-pod-restarted",
                  node,
                  volume,
                  "the client of Mount Pod "
                      + ClusterPicture.ref(mp)
                      + " restarted "
                      + restarts
                      + (restarts == 1 ? " time" : " times")
                      + ", last at "
                      + last.get()
                      + lastExit(statuses),
                  subject));
        }
      }
    }
    for (Pod pod : p.appPods) {
      String phase = Optional.ofNullable(pod.getStatus()).map(s -> s.getPhase()).orElse("Pending");
      if ("Pending".equals(phase) && olderThanGrace(pod.getMetadata().getCreationTimestamp())) {
        String waiting =
            ClusterPicture.statuses(pod).stream()
                .filter(s -> s.getState() != null && s.getState().getWaiting() != null)
                .map(s -> s.getState().getWaiting().getReason())
                .filter(Objects::nonNull)
                .findFirst()
                .orElse(pod.getSpec().getNodeName() == null ? "not scheduled" : "Pending");
        found.add(
            new Problem(
                "critical",
                "pod-not-starting",
                pod.getSpec().getNodeName(),
                p.claimsOf(pod).stream()
                    .map(p.volumeByClaim::get)
                    .filter(Objects::nonNull)
                    .map(v -> v.getMetadata().getName())
                    .findFirst()
                    .orElse(null),
                "pod " + ClusterPicture.ref(pod) + " is " + waiting + " since " + creation(pod),
                Optional.of(
                    new DoctorSubject(
                        true, pod.getMetadata().getNamespace(), pod.getMetadata().getName()))));
      }
    }
    for (PersistentVolumeClaim c : p.claims.values()) {
      String phase = Optional.ofNullable(c.getStatus()).map(s -> s.getPhase()).orElse("Pending");
      if (!"Bound".equals(phase) && olderThanGrace(c.getMetadata().getCreationTimestamp())) {
        found.add(
            new Problem(
                "critical",
                "claim-not-bound",
                null,
                null,
                "PVC "
                    + ClusterPicture.ref(c)
                    + " is "
                    + phase
                    + " since "
                    + c.getMetadata().getCreationTimestamp(),
                Optional.of(
                    new DoctorSubject(
                        false, c.getMetadata().getNamespace(), c.getMetadata().getName()))));
      }
    }
    // Critical first, then by kind and what: a stable order, so an unchanged cluster gives an
    // unchanged picture and the page is not redrawn for nothing.
    found.sort(
        Comparator.comparing((Problem p) -> !p.severity().equals("critical"))
            .thenComparing(Problem::kind)
            .thenComparing(Problem::what));
    return found;
  }

  private boolean olderThanGrace(String timestamp) {
    return ClusterPicture.instant(timestamp)
        .map(t -> t.plus(GRACE).isBefore(p.in.now()))
        .orElse(true);
  }

  private static String creation(Pod pod) {
    return pod.getMetadata().getCreationTimestamp();
  }

  private static Optional<Instant> lastTermination(List<ContainerStatus> statuses) {
    return statuses.stream()
        .filter(s -> s.getLastState() != null && s.getLastState().getTerminated() != null)
        .map(s -> ClusterPicture.instant(s.getLastState().getTerminated().getFinishedAt()))
        .flatMap(Optional::stream)
        .max(Comparator.naturalOrder());
  }

  private static String lastExit(List<ContainerStatus> statuses) {
    return statuses.stream()
        .filter(s -> s.getLastState() != null && s.getLastState().getTerminated() != null)
        .map(s -> s.getLastState().getTerminated())
        .map(
            t ->
                " (exit code "
                    + t.getExitCode()
                    + Optional.ofNullable(t.getReason()).map(r -> ", " + r).orElse("")
                    + ")")
        .findFirst()
        .orElse("");
  }
}
