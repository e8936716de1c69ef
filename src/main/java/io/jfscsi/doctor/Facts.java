package io.jfscsi.doctor;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the doctor read from the API about one volume's chain: app pod, PVC, PV, StorageClass, the
 * secrets they name, the Mount Pods serving the volume, and the events of all of them. Secret
 * values are kept only to run the driver's own parser on them; they are never printed.
 *
 * @param subject what the user asked about, e.g. {@code pod default/app}
 * @param appPod the app pod, when asked about a pod (empty: asked about a PVC, or gone)
 * @param pvcName namespace/name of the PVC
 * @param pvc the PVC, empty when it does not exist
 * @param storageClass the PVC's StorageClass, empty when it has none or it does not exist
 * @param pv the PV bound to the PVC
 * @param provisionerSecret the secret named by the StorageClass for provisioning, with its
 *     reference (ns/name) as key; empty map values when the secret is missing
 * @param publishSecret the secret named by the PV's nodePublishSecretRef
 * @param mountPods the Mount Pods of the PV's volume (on the app pod's node if known)
 * @param events events of the app pod, the PVC and the Mount Pods, oldest first
 */
public record Facts(
    String subject,
    Optional<Pod> appPod,
    String pvcName,
    Optional<PersistentVolumeClaim> pvc,
    Optional<StorageClass> storageClass,
    Optional<PersistentVolume> pv,
    Optional<SecretFact> provisionerSecret,
    Optional<SecretFact> publishSecret,
    List<Pod> mountPods,
    List<Event> events) {

  /** A secret named somewhere in the chain: its reference, and its data if it exists. */
  public record SecretFact(String reference, Optional<Map<String, String>> data) {
    @Override
    public String toString() {
      return "SecretFact["
          + reference
          + ", "
          + data.map(d -> "keys " + d.keySet()).orElse("missing")
          + "]";
    }
  }
}
