package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.client.TargetVolume;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which volumes a Mount Pod serves, for the views that go from a pod to its PVs (the cluster page,
 * the doctor, {@code kubectl jfs-csi}): by default the one its {@code volume-id} label names; in a
 * share mode the label names a StorageClass or file system, and the volumes are those of its
 * references (the volume in its source annotation, and those {@code target-volumes} names). Pure.
 */
public final class MountPodVolumes {
  private MountPodVolumes() {}

  /** The unique id the pod was made for ({@code juicefs-uniqueid}, else its label). */
  public static Optional<String> uniqueId(Pod pod) {
    Map<String, String> a = PodReferences.annotations(pod);
    Map<String, String> labels = pod.getMetadata().getLabels();
    return Optional.ofNullable(a.get(MountPodNames.UNIQUE_ID))
        .or(
            () ->
                Optional.ofNullable(
                    labels == null ? null : labels.get(MountPodNames.VOLUME_ID_LABEL)));
  }

  /**
   * The volume the pod was started for when it is shared (its unique id is not that volume's):
   * empty for a pod of one volume, and for a Go driver's pod, which names no volume of its own.
   */
  public static Optional<String> sharedFrom(Pod pod) {
    Map<String, String> a = PodReferences.annotations(pod);
    Optional<String> source = PodSource.parse(a.get(MountPodNames.SOURCE)).map(PodSource::volumeId);
    Optional<String> id = uniqueId(pod);
    return source.filter(s -> id.isPresent() && !id.get().equals(s));
  }

  /** Whether the pod serves the volume {@code volumeHandle} (labelled by it, or shared with it). */
  public static boolean serves(Pod pod, String volumeHandle) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    String label = labels == null ? null : labels.get(MountPodNames.VOLUME_ID_LABEL);
    return MountPodNames.volumeLabel(volumeHandle).equals(label)
        || (sharedFrom(pod).isPresent() && volumeIds(pod).contains(volumeHandle));
  }

  /**
   * The volume ids of the pod: the one it was made for, and in a share mode every volume one of its
   * references shows.
   */
  public static Set<String> volumeIds(Pod pod) {
    Set<String> ids = new LinkedHashSet<>();
    Optional<String> shared = sharedFrom(pod);
    if (shared.isEmpty()) {
      uniqueId(pod).ifPresent(ids::add);
      return ids;
    }
    Map<String, String> a = PodReferences.annotations(pod);
    Map<String, TargetVolume> others = PodReferences.sharedTargets(a);
    for (String target : PodReferences.targets(a)) {
      TargetVolume v = others.get(target);
      ids.add(v == null ? shared.get() : v.volumeId());
    }
    if (ids.isEmpty()) {
      ids.add(shared.get());
    }
    return ids;
  }
}
