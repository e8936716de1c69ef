package io.jfscsi.doctor;

import static io.jfscsi.doctor.KubeObjects.isReady;
import static io.jfscsi.doctor.KubeObjects.isRunningAndReady;
import static io.jfscsi.doctor.KubeObjects.lastEventMessage;
import static io.jfscsi.doctor.KubeObjects.lastLines;
import static io.jfscsi.doctor.KubeObjects.name;
import static io.jfscsi.doctor.KubeObjects.podPhase;
import static io.jfscsi.doctor.KubeObjects.ref;
import static io.jfscsi.doctor.KubeObjects.statuses;
import static io.jfscsi.doctor.KubeObjects.verdict;

import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.doctor.Verdict.Side;
import io.jfscsi.juicefs.VolumeSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * "Pod not starting": the PV is bound; what stops the node from serving it (settings the node
 * refuses, the Mount Pod, kubelet's FailedMount, a stale mount).
 */
final class NodeSide {

  private static final Pattern STALE =
      Pattern.compile("(?i)transport endpoint is not connected|stale file handle");

  /** kubelet's waiting reasons for an image it cannot get (ErrImageNeverPull: not on the node). */
  private static final Set<String> IMAGE_PULL_FAILURES =
      Set.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull");

  private final String driverName;

  NodeSide(String driverName) {
    this.driverName = driverName;
  }

  Verdict diagnose(Facts facts, PersistentVolume pv, List<String> evidence) {
    var csi = pv.getSpec().getCsi();
    if (csi == null || !driverName.equals(csi.getDriver())) {
      return verdict(
          Side.NODE,
          "the PV " + name(pv) + " is not a " + driverName + " volume",
          evidence,
          "this doctor only follows JuiceFS volumes");
    }
    evidence.add(
        "pv "
            + name(pv)
            + ": volumeHandle "
            + csi.getVolumeHandle()
            + facts.publishSecret().map(s -> ", nodePublishSecretRef " + s.reference()).orElse(""));
    if (facts.publishSecret().isEmpty()) {
      return verdict(
          Side.NODE,
          "the PV "
              + name(pv)
              + " has no nodePublishSecretRef: the node "
              + "cannot learn the volume's name and metaurl",
          evidence,
          "set spec.csi.nodePublishSecretRef (or csi.storage.k8s.io/node-publish-secret-* in the "
              + "StorageClass)");
    }
    Facts.SecretFact secret = facts.publishSecret().get();
    if (secret.data().isEmpty()) {
      return verdict(
          Side.NODE,
          "the node publish secret " + secret.reference() + " does not exist",
          evidence,
          "create it with at least the keys name and metaurl");
    }
    Optional<String> refused =
        Doctor.refusal(
            new VolumeSource(
                csi.getVolumeHandle(),
                secret.data().get(),
                Optional.ofNullable(csi.getVolumeAttributes()).orElse(Map.of()),
                Optional.ofNullable(pv.getSpec().getMountOptions()).orElse(List.of())),
            evidence);
    if (refused.isPresent()) {
      return verdict(
          Side.NODE,
          "NodePublishVolume is refused: " + refused.get(),
          evidence,
          "fix the PV's mountOptions / volumeAttributes or the secret " + secret.reference());
    }
    if (facts.appPod().isEmpty()) {
      return mountPodVerdict(facts, evidence)
          .orElseGet(
              () -> verdict(Side.NONE, "the PVC is bound and its settings are valid", evidence));
    }
    Pod app = facts.appPod().get();
    if (app.getSpec().getNodeName() == null || app.getSpec().getNodeName().isEmpty()) {
      return verdict(
          Side.NONE,
          "the pod is not scheduled to a node yet: not a volume problem",
          evidence,
          "kubectl describe pod " + ref(app) + " (FailedScheduling events)");
    }
    Optional<Verdict> mountPod = mountPodVerdict(facts, evidence);
    if (mountPod.isPresent()) {
      return mountPod.get();
    }
    Optional<String> failedMount =
        lastEventMessage(facts.events(), "Pod", name(app), "FailedMount");
    if (failedMount.isPresent() && STALE.matcher(failedMount.get()).find()) {
      evidence.add("event FailedMount: " + failedMount.get());
      return verdict(
          Side.NODE,
          "a stale mount: the target still holds a dead client's mount",
          evidence,
          "the node plugin binds targets again when the client is back; if it stays, "
              + "delete the pod so kubelet publishes the volume again");
    }
    if (isRunningAndReady(app)) {
      return verdict(Side.NONE, "the pod runs and its volume is served", evidence);
    }
    if (failedMount.isPresent()) {
      evidence.add("event FailedMount: " + failedMount.get());
      return verdict(
          Side.NODE,
          "kubelet's NodePublishVolume failed: " + failedMount.get(),
          evidence,
          "see the node plugin's log on " + app.getSpec().getNodeName());
    }
    if (facts.mountPods().isEmpty()) {
      return verdict(
          Side.NODE,
          "no Mount Pod serves volume "
              + csi.getVolumeHandle()
              + " on node "
              + app.getSpec().getNodeName(),
          evidence,
          "is the jfs-csi node plugin running on "
              + app.getSpec().getNodeName()
              + "? kubectl get pods -o wide -l app=jfs-csi-node");
    }
    return verdict(
        Side.NONE,
        "the volume's chain looks healthy; the pod waits for something " + "else",
        evidence,
        "kubectl describe pod " + ref(app));
  }

  /** A failing Mount Pod of the volume, if there is one. */
  private Optional<Verdict> mountPodVerdict(Facts facts, List<String> evidence) {
    for (Pod mp : facts.mountPods()) {
      evidence.add("mount pod " + ref(mp) + ": " + podPhase(mp));
    }
    for (Pod mp : facts.mountPods()) {
      for (ContainerStatus cs : statuses(mp)) {
        var waiting = cs.getState() == null ? null : cs.getState().getWaiting();
        String reason = waiting == null || waiting.getReason() == null ? "" : waiting.getReason();
        if (IMAGE_PULL_FAILURES.contains(reason)) {
          return Optional.of(
              verdict(
                  Side.MOUNT_POD,
                  "the Mount Pod's image cannot be pulled: "
                      + cs.getImage()
                      + " ("
                      + reason
                      + ": "
                      + Optional.ofNullable(waiting.getMessage()).orElse("")
                      + ")",
                  evidence,
                  "fix juicefs/mount-image in the PV or StorageClass, or the node's registry access"));
        }
        ContainerStateTerminated last =
            cs.getLastState() == null ? null : cs.getLastState().getTerminated();
        ContainerStateTerminated now = cs.getState() == null ? null : cs.getState().getTerminated();
        ContainerStateTerminated crash = now != null ? now : last;
        int restarts = Optional.ofNullable(cs.getRestartCount()).orElse(0);
        boolean looping =
            reason.equals("CrashLoopBackOff") || restarts > 0 && crash != null && !isReady(cs);
        if (looping || now != null && Optional.ofNullable(now.getExitCode()).orElse(0) != 0) {
          String message =
              crash == null ? "" : Optional.ofNullable(crash.getMessage()).orElse("").strip();
          String exit =
              crash == null
                  ? ""
                  : "exit code "
                      + crash.getExitCode()
                      + Optional.ofNullable(crash.getReason()).map(r -> " (" + r + ")").orElse("");
          evidence.add(
              "mount pod "
                  + ref(mp)
                  + ": "
                  + restarts
                  + " restarts, last "
                  + exit
                  + (message.isEmpty() ? "" : ", said: " + lastLines(message, 5)));
          boolean metaurl = Doctor.METAURL_TROUBLE.matcher(message).find();
          return Optional.of(
              verdict(
                  Side.MOUNT_POD,
                  metaurl
                      ? "the JuiceFS client cannot reach its metadata engine (wrong metaurl?): "
                          + lastLines(message, 1)
                      : "the JuiceFS client crashes in a loop: " + exit,
                  evidence,
                  metaurl
                      ? "check metaurl in the volume's secret and that the engine is reachable from "
                          + "the node"
                      : "kubectl logs --previous -n "
                          + mp.getMetadata().getNamespace()
                          + " "
                          + name(mp)));
        }
      }
      if ("Pending".equals(mp.getStatus() == null ? null : mp.getStatus().getPhase())) {
        Optional<String> unscheduled =
            lastEventMessage(facts.events(), "Pod", name(mp), "FailedScheduling");
        if (unscheduled.isPresent()) {
          return Optional.of(
              verdict(
                  Side.MOUNT_POD,
                  "the Mount Pod cannot be scheduled: " + unscheduled.get(),
                  evidence,
                  "lower juicefs/mount-cpu-request and "
                      + "juicefs/mount-memory-request, or free the node"));
        }
      }
    }
    return Optional.empty();
  }
}
