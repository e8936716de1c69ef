package io.jfscsi.doctor;

import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.jfscsi.Failure;
import io.jfscsi.doctor.Verdict.Side;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The doctor's rules: walks pod → PVC → PV → StorageClass → Mount Pod → events, and names the first
 * link that is broken. Settings are checked with the driver's own parser, so the doctor refuses
 * exactly what the driver refuses (a missing secret key, writeback, a bad option) with the same
 * words. Pure: everything it looks at is in {@link Facts}.
 */
public final class Doctor {

  static final String PROVISIONER_SECRET_NAME = "csi.storage.k8s.io/provisioner-secret-name";
  static final String PROVISIONER_SECRET_NAMESPACE =
      "csi.storage.k8s.io/provisioner-secret-namespace";

  /** Client output that points at the metadata engine rather than the client itself. */
  private static final Pattern METAURL_TROUBLE =
      Pattern.compile(
          "(?i)connection refused|no such host|i/o timeout|database is not formatted|not formatted"
              + "|invalid meta|meta.*not found|load setting|getaddrinfo|authentication|WRONGPASS"
              + "|NOAUTH|no such file or directory.*meta|unknown meta|invalid uri|parse .*url");

  private static final Pattern STALE =
      Pattern.compile("(?i)transport endpoint is not connected|stale file handle");

  private final String driverName;

  public Doctor(String driverName) {
    this.driverName = driverName;
  }

  public Verdict diagnose(Facts facts) {
    List<String> evidence = new ArrayList<>();
    facts.appPod().ifPresent(p -> evidence.add("pod " + ref(p) + ": " + podPhase(p)));
    if (facts.subject().startsWith("pod ") && facts.appPod().isEmpty()) {
      return verdict(
          Side.NONE,
          facts.subject() + " does not exist",
          evidence,
          "check the namespace and name: kubectl get pods -A | grep <name>");
    }
    if (facts.pvc().isEmpty()) {
      return verdict(
          Side.CONTROLLER,
          "the PVC " + facts.pvcName() + " does not exist",
          evidence,
          "create the PVC, or fix the claimName in the pod");
    }
    PersistentVolumeClaim pvc = facts.pvc().get();
    String scName = Optional.ofNullable(pvc.getSpec().getStorageClassName()).orElse("");
    evidence.add(
        "pvc "
            + facts.pvcName()
            + ": "
            + phase(pvc)
            + (scName.isEmpty() ? "" : ", storageClass " + scName)
            + Optional.ofNullable(pvc.getSpec().getVolumeName())
                .filter(v -> !v.isEmpty())
                .map(v -> ", volume " + v)
                .orElse(""));
    facts
        .storageClass()
        .ifPresent(
            sc ->
                evidence.add(
                    "storageclass "
                        + name(sc)
                        + ": provisioner "
                        + sc.getProvisioner()
                        + ", reclaimPolicy "
                        + sc.getReclaimPolicy()));
    if (facts.pv().isEmpty() || !"Bound".equals(phase(pvc))) {
      return controllerSide(facts, pvc, scName, evidence);
    }
    return nodeSide(facts, facts.pv().get(), evidence);
  }

  // ---- "PV not created" ------------------------------------------------------------------

  private Verdict controllerSide(
      Facts facts, PersistentVolumeClaim pvc, String scName, List<String> evidence) {
    Optional<String> provisioningFailure =
        lastEventMessage(facts.events(), "PersistentVolumeClaim", name(pvc), "ProvisioningFailed");
    if (scName.isEmpty()) {
      return verdict(
          Side.CONTROLLER,
          "the PVC has no StorageClass and no PV is bound to it",
          evidence,
          "for existing data create a static PV with csi.driver "
              + driverName
              + " and bind it (spec.volumeName), or set spec.storageClassName");
    }
    if (facts.storageClass().isEmpty()) {
      return verdict(
          Side.CONTROLLER,
          "the StorageClass " + scName + " does not exist",
          evidence,
          "kubectl get storageclass; create it or fix spec.storageClassName");
    }
    StorageClass sc = facts.storageClass().get();
    if (!driverName.equals(sc.getProvisioner())) {
      return verdict(
          Side.CONTROLLER,
          "the StorageClass "
              + scName
              + " is provisioned by "
              + sc.getProvisioner()
              + ", not by "
              + driverName,
          evidence,
          "set provisioner: " + driverName + " in the StorageClass");
    }
    Map<String, String> parameters = Optional.ofNullable(sc.getParameters()).orElse(Map.of());
    if (facts.provisionerSecret().isEmpty()) {
      return verdict(
          Side.CONTROLLER,
          "the StorageClass "
              + scName
              + " names no provisioner "
              + "secret ("
              + PROVISIONER_SECRET_NAME
              + ")",
          evidence,
          "add csi.storage.k8s.io/provisioner-secret-name and -namespace to its parameters");
    }
    Facts.SecretFact secret = facts.provisionerSecret().get();
    if (secret.data().isEmpty()) {
      return verdict(
          Side.CONTROLLER,
          "the provisioner secret " + secret.reference() + " does not exist",
          evidence,
          "create it with at least the keys name and metaurl");
    }
    evidence.add(
        "provisioner secret "
            + secret.reference()
            + ": keys "
            + new TreeSet<>(secret.data().get().keySet()));
    Optional<String> refused =
        refusal(
            new VolumeSource(
                "doctor",
                secret.data().get(),
                withoutCsiKeys(parameters),
                Optional.ofNullable(sc.getMountOptions()).orElse(List.of())));
    if (refused.isPresent()) {
      return verdict(
          Side.CONTROLLER,
          "the driver refuses the StorageClass and its secret: " + refused.get(),
          evidence,
          "fix the secret " + secret.reference() + " or the StorageClass parameters");
    }
    if (provisioningFailure.isPresent()) {
      String message = provisioningFailure.get();
      evidence.add("event ProvisioningFailed: " + message);
      return verdict(
          Side.CONTROLLER,
          "provisioning failed: " + message,
          evidence,
          METAURL_TROUBLE.matcher(message).find()
              ? "the metadata engine named by metaurl is not reachable or not formatted"
              : "see the controller's log: kubectl logs -l app=jfs-csi-controller");
    }
    return verdict(
        Side.CONTROLLER,
        "no controller has acted on the PVC (no PV, no " + "ProvisioningFailed event)",
        evidence,
        "is the jfs-csi controller running, and does "
            + "one replica hold the leader lease? kubectl -n <driver namespace> get lease");
  }

  // ---- "pod not starting" ----------------------------------------------------------------

  private Verdict nodeSide(Facts facts, PersistentVolume pv, List<String> evidence) {
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
        refusal(
            new VolumeSource(
                csi.getVolumeHandle(),
                secret.data().get(),
                Optional.ofNullable(csi.getVolumeAttributes()).orElse(Map.of()),
                Optional.ofNullable(pv.getSpec().getMountOptions()).orElse(List.of())));
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
        if (reason.equals("ErrImagePull")
            || reason.equals("ImagePullBackOff")
            || reason.equals("InvalidImageName")) {
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
          boolean metaurl = METAURL_TROUBLE.matcher(message).find();
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

  // ---- helpers ---------------------------------------------------------------------------

  /** The driver's own refusal of these settings, in its words, or empty if it accepts them. */
  static Optional<String> refusal(VolumeSource source) {
    try {
      SettingsParser.parse(source);
      return Optional.empty();
    } catch (Failure f) {
      return Optional.of(f.getMessage());
    }
  }

  private static Map<String, String> withoutCsiKeys(Map<String, String> parameters) {
    Map<String, String> out = new HashMap<>();
    parameters.forEach(
        (k, v) -> {
          if (!k.startsWith("csi.storage.k8s.io/") && !k.equals("pathPattern")) {
            out.put(k, v);
          }
        });
    return out;
  }

  private static Optional<String> lastEventMessage(
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

  private static List<ContainerStatus> statuses(Pod pod) {
    return pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null
        ? List.of()
        : pod.getStatus().getContainerStatuses();
  }

  private static boolean isReady(ContainerStatus cs) {
    return Boolean.TRUE.equals(cs.getReady());
  }

  private static boolean isRunningAndReady(Pod pod) {
    return pod.getStatus() != null
        && "Running".equals(pod.getStatus().getPhase())
        && !statuses(pod).isEmpty()
        && statuses(pod).stream().allMatch(Doctor::isReady);
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

  private static String phase(PersistentVolumeClaim pvc) {
    return pvc.getStatus() == null || pvc.getStatus().getPhase() == null
        ? "Pending"
        : pvc.getStatus().getPhase();
  }

  private static String lastLines(String text, int n) {
    String[] lines = text.split("\n");
    return String.join(
        " | ", Arrays.copyOfRange(lines, Math.max(0, lines.length - n), lines.length));
  }

  private static String ref(Pod pod) {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  private static String name(HasMetadata o) {
    return o.getMetadata().getName();
  }

  private static Verdict verdict(Side side, String cause, List<String> evidence, String... hints) {
    return new Verdict(side, cause, List.copyOf(evidence), List.of(hints));
  }
}
