package io.jfscsi.runtime.kube.configmap;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the selectors of {@code mountPodPatch} and the claim settings of a publish ({@link
 * io.jfscsi.juicefs.ClaimSettings}) look at, read from the API server when needed: the claim of a
 * volume (its PV by name, which is the volume id of every dynamic volume, else the PV whose CSI
 * volume handle it is; then the PV's {@code claimRef}) and the labels of this node. A volume
 * without a PV or claim has none; an API error is thrown, so that the start fails and kubelet's
 * retry reads again, rather than a Mount Pod being built without the patch its claim should get.
 */
public final class ClaimLookup {
  private final KubernetesClient client;

  /**
   * The PV name of each volume handle found by a list (a static PV named other than its handle), so
   * that its next publishes read that one PV instead of listing every PV of the cluster again. A
   * name that no longer holds the handle is forgotten and the list runs again.
   */
  private final Map<String, String> listedNames = new ConcurrentHashMap<>();

  public ClaimLookup(KubernetesClient client) {
    this.client = client;
  }

  /** The StorageClass parameters whose templates make a Secret per claim. */
  private static final List<String> SECRET_PARAMETERS =
      List.of(
          "csi.storage.k8s.io/node-publish-secret-name",
          "csi.storage.k8s.io/node-publish-secret-namespace",
          "csi.storage.k8s.io/provisioner-secret-name",
          "csi.storage.k8s.io/provisioner-secret-namespace");

  /**
   * The StorageClass whose volumes may share one client with this one (STORAGE_CLASS_SHARE_MOUNT):
   * the PV's {@code storageClassName}; none for a volume without a PV or class, and none, as in the
   * Go driver, when the class's Secret names are templates ({@code ${pvc.name}}...): its volumes
   * may each have credentials of their own.
   */
  public Optional<String> storageClassOf(String volumeId) {
    PersistentVolume pv = volume(volumeId);
    if (pv == null
        || pv.getSpec().getStorageClassName() == null
        || pv.getSpec().getStorageClassName().isEmpty()) {
      return Optional.empty();
    }
    String name = pv.getSpec().getStorageClassName();
    StorageClass sc = client.storage().v1().storageClasses().withName(name).get();
    Map<String, String> parameters =
        sc == null || sc.getParameters() == null ? Map.of() : sc.getParameters();
    boolean templated =
        SECRET_PARAMETERS.stream()
            .map(parameters::get)
            .anyMatch(value -> value != null && value.contains("$"));
    return templated ? Optional.empty() : Optional.of(name);
  }

  /**
   * The PV of a volume: by name, which is the volume id of every dynamic volume, else by handle.
   */
  private PersistentVolume volume(String volumeId) {
    String name = listedNames.getOrDefault(volumeId, volumeId);
    PersistentVolume pv = client.persistentVolumes().withName(name).get();
    if (pv != null && handles(pv, volumeId)) {
      return pv;
    }
    listedNames.remove(volumeId);
    pv =
        client.persistentVolumes().list().getItems().stream()
            .filter(v -> handles(v, volumeId))
            .findFirst()
            .orElse(null);
    if (pv != null && !pv.getMetadata().getName().equals(volumeId)) {
      listedNames.put(volumeId, pv.getMetadata().getName());
    }
    return pv;
  }

  public Optional<PersistentVolumeClaim> claimOf(String volumeId) {
    PersistentVolume pv = volume(volumeId);
    if (pv == null || pv.getSpec().getClaimRef() == null) {
      return Optional.empty();
    }
    ObjectReference ref = pv.getSpec().getClaimRef();
    PersistentVolumeClaim pvc =
        client
            .persistentVolumeClaims()
            .inNamespace(ref.getNamespace())
            .withName(ref.getName())
            .get();
    // A claimRef to a claim deleted and made again under the same name is not this volume's.
    if (pvc == null || (ref.getUid() != null && !ref.getUid().equals(pvc.getMetadata().getUid()))) {
      return Optional.empty();
    }
    return Optional.of(pvc);
  }

  /** The capacity of the volume's PV in bytes, if it has a PV with one. */
  public Optional<Long> capacityOf(String volumeId) {
    PersistentVolume pv = client.persistentVolumes().withName(volumeId).get();
    if (pv == null || !handles(pv, volumeId) || pv.getSpec().getCapacity() == null) {
      return Optional.empty();
    }
    return Optional.ofNullable(pv.getSpec().getCapacity().get("storage"))
        .map(q -> q.getNumericalAmount().longValue());
  }

  private static boolean handles(PersistentVolume pv, String volumeId) {
    return pv.getSpec() != null
        && pv.getSpec().getCsi() != null
        && volumeId.equals(pv.getSpec().getCsi().getVolumeHandle());
  }

  public Optional<Map<String, String>> nodeLabels(String node) {
    return node(node)
        .map(n -> n.getMetadata().getLabels() == null ? Map.of() : n.getMetadata().getLabels());
  }

  public Optional<Node> node(String name) {
    return Optional.ofNullable(client.nodes().withName(name).get());
  }
}
