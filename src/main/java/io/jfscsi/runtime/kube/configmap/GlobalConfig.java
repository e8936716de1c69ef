package io.jfscsi.runtime.kube.configmap;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Go driver's global configuration ({@code config.yaml} of the ConfigMap {@code
 * juicefs-csi-driver-config}) as one immutable value: its switches and its {@code mountPodPatch}
 * entries, in order.
 */
public record GlobalConfig(Switches switches, List<MountPodPatch> mountPodPatch) {

  /** No ConfigMap: the Go driver's defaults, nothing patched. */
  public static final GlobalConfig DEFAULTS = new GlobalConfig(Switches.DEFAULTS, List.of());

  public GlobalConfig {
    mountPodPatch = List.copyOf(mountPodPatch);
  }

  /** Whether some entry selects by claim: only then does a Mount Pod need its claim looked up. */
  public boolean selectsClaims() {
    return mountPodPatch.stream().anyMatch(p -> p.pvcSelector() != null);
  }

  /** Whether the node's labels are needed (an entry selects by node, or enableNodeSelector). */
  public boolean needsNodeLabels() {
    return switches.enableNodeSelector()
        || mountPodPatch.stream().anyMatch(p -> p.nodeSelector() != null);
  }

  /**
   * Every entry whose selectors hold for this claim and node, merged in order ({@link
   * MountPodPatch#then}); an entry without selectors applies to every Mount Pod.
   */
  public MountPodPatch patchFor(
      Optional<PersistentVolumeClaim> claim, Optional<Map<String, String>> nodeLabels) {
    MountPodPatch merged = MountPodPatch.NONE;
    for (MountPodPatch entry : mountPodPatch) {
      boolean claimOk = entry.pvcSelector() == null || entry.pvcSelector().matches(claim);
      boolean nodeOk = entry.nodeSelector() == null || entry.nodeSelector().matches(nodeLabels);
      if (claimOk && nodeOk) {
        merged = merged.then(entry);
      }
    }
    return merged;
  }
}
