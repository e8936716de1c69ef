package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.jfscsi.juicefs.VolumeSource;
import java.util.List;

/**
 * One JuiceFS claim an app pod uses, as read from the API server when the pod is admitted: the
 * pod's volumes that name it, the claim's name and namespace, and what its PV and Secret say (the
 * claim's annotations and templates already folded in, as for a publish).
 *
 * @param claimUid the claim's uid, which owns the client's Secret ("" when unknown)
 * @param podVolumes the names of the pod's volumes that use the claim (usually one)
 * @param readOnly whether a pod volume asks for it read-only ({@code persistentVolumeClaim
 *     .readOnly})
 * @param claim the claim as read, which the ConfigMap's {@code pvcSelector} looks at (its labels,
 *     name and StorageClass)
 */
public record SidecarClaim(
    String namespace,
    String claimName,
    String claimUid,
    List<String> podVolumes,
    VolumeSource source,
    boolean readOnly,
    PersistentVolumeClaim claim) {

  public SidecarClaim {
    podVolumes = List.copyOf(podVolumes);
  }

  /** A claim known by name and uid only: no labels or StorageClass for a selector to match. */
  public SidecarClaim(
      String namespace,
      String claimName,
      String claimUid,
      List<String> podVolumes,
      VolumeSource source,
      boolean readOnly) {
    this(
        namespace,
        claimName,
        claimUid,
        podVolumes,
        source,
        readOnly,
        new PersistentVolumeClaimBuilder()
            .withNewMetadata()
            .withNamespace(namespace)
            .withName(claimName)
            .withUid(claimUid)
            .endMetadata()
            .withNewSpec()
            .endSpec()
            .build());
  }

  /** "namespace/name", as a refusal names the claim. */
  public String qualifiedName() {
    return namespace + "/" + claimName;
  }
}
