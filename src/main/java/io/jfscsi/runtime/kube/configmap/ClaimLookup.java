package io.jfscsi.runtime.kube.configmap;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;
import java.util.Optional;

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

  public ClaimLookup(KubernetesClient client) {
    this.client = client;
  }

  public Optional<PersistentVolumeClaim> claimOf(String volumeId) {
    PersistentVolume pv = client.persistentVolumes().withName(volumeId).get();
    if (pv == null || !handles(pv, volumeId)) {
      pv =
          client.persistentVolumes().list().getItems().stream()
              .filter(v -> handles(v, volumeId))
              .findFirst()
              .orElse(null);
    }
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
