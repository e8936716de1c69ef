package io.jfscsi.doctor;

import static io.jfscsi.doctor.KubeObjects.name;
import static io.jfscsi.doctor.KubeObjects.phase;
import static io.jfscsi.doctor.KubeObjects.podPhase;
import static io.jfscsi.doctor.KubeObjects.ref;
import static io.jfscsi.doctor.KubeObjects.verdict;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.jfscsi.Failure;
import io.jfscsi.doctor.Verdict.Side;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The doctor's rules: walks pod → PVC → PV → StorageClass → Mount Pod → events, and names the first
 * link that is broken. Settings are checked with the driver's own parser, so the doctor refuses
 * exactly what the driver refuses (a missing secret key, writeback, a bad option) with the same
 * words. Pure: everything it looks at is in {@link Facts}. The two halves of the troubleshooting
 * split live in {@link ControllerSide} ("PV not created") and {@link NodeSide} ("pod not
 * starting").
 */
public final class Doctor {

  static final String PROVISIONER_SECRET_NAME = "csi.storage.k8s.io/provisioner-secret-name";
  static final String PROVISIONER_SECRET_NAMESPACE =
      "csi.storage.k8s.io/provisioner-secret-namespace";

  /** Client output that points at the metadata engine rather than the client itself. */
  static final Pattern METAURL_TROUBLE =
      Pattern.compile(
          "(?i)connection refused|no such host|i/o timeout|database is not formatted|not formatted"
              + "|invalid meta|meta.*not found|load setting|getaddrinfo|authentication|WRONGPASS"
              + "|NOAUTH|no such file or directory.*meta|unknown meta|invalid uri|parse .*url");

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
      return new ControllerSide(driverName).diagnose(facts, pvc, scName, evidence);
    }
    return new NodeSide(driverName).diagnose(facts, facts.pv().get(), evidence);
  }

  /**
   * The driver's own refusal of these settings, in its words, or empty if it accepts them; keys it
   * ignores (misspelt, most likely) go into {@code evidence}.
   */
  static Optional<String> refusal(VolumeSource source, List<String> evidence) {
    SettingsParser.ignoredKeys(source).ifPresent(evidence::add);
    try {
      SettingsParser.parse(source);
      return Optional.empty();
    } catch (Failure f) {
      return Optional.of(f.getMessage());
    }
  }
}
