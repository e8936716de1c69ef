package io.jfscsi.webhook;

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
 */
public record SidecarClaim(
    String namespace,
    String claimName,
    String claimUid,
    List<String> podVolumes,
    VolumeSource source,
    boolean readOnly) {

  public SidecarClaim {
    podVolumes = List.copyOf(podVolumes);
  }

  /** "namespace/name", as a refusal names the claim. */
  public String qualifiedName() {
    return namespace + "/" + claimName;
  }
}
