package io.jfscsi.doctor;

import static io.jfscsi.doctor.KubeObjects.lastEventMessage;
import static io.jfscsi.doctor.KubeObjects.name;
import static io.jfscsi.doctor.KubeObjects.verdict;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.jfscsi.doctor.Verdict.Side;
import io.jfscsi.juicefs.VolumeSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/** "PV not created": why the controller has not bound a PV to the claim. */
final class ControllerSide {

  private final String driverName;

  ControllerSide(String driverName) {
    this.driverName = driverName;
  }

  Verdict diagnose(Facts facts, PersistentVolumeClaim pvc, String scName, List<String> evidence) {
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
              + Doctor.PROVISIONER_SECRET_NAME
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
        Doctor.refusal(
            new VolumeSource(
                "doctor",
                secret.data().get(),
                withoutCsiKeys(parameters),
                Optional.ofNullable(sc.getMountOptions()).orElse(List.of())),
            evidence);
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
          Doctor.METAURL_TROUBLE.matcher(message).find()
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
}
