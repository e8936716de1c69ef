package io.jfscsi.webhook;

import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.kube.ConfigMapPatches;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The global ConfigMap's {@code mountPodPatch} as it reaches a sidecar: the entries that select the
 * claim, merged, filled in and applied by the code that patches Mount Pods ({@link
 * ConfigMapPatches}, then {@code MountPodBuilder}), so that a field means the same in both modes.
 *
 * <p>What differs follows from a sidecar being a container of the app's pod, as in the Go driver
 * (its docs: a field applies to a sidecar when it is a container's): the container's fields ({@code
 * ceMountImage}, {@code imagePullPolicy}, {@code env}, {@code resources}, probes, {@code lifecycle}
 * but for its postStart, {@code volumes} and {@code volumeMounts}, {@code cacheDirs}, {@code
 * mountOptions}) apply; the pod's ({@code labels}, {@code annotations}, {@code hostNetwork}, {@code
 * hostPID}, {@code dnsPolicy}, {@code dnsConfig}, {@code terminationGracePeriodSeconds}, {@code
 * initContainers}) stay the app's, since the injection takes only the client's container and
 * volumes. An entry with a {@code nodeSelector} does not apply: at admission the pod has no node
 * yet, and a node chosen later cannot change the pod.
 */
final class SidecarPatch {
  private SidecarPatch() {}

  static ConfigMapPatches.Patched of(
      GlobalConfig global, SidecarClaim claim, VolumeSettings settings, Path mountPath) {
    return ConfigMapPatches.patched(
        global, Optional.of(claim.claim()), Optional.empty(), settings, mountPath);
  }
}
