package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.CSIVolumeSourceBuilder;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.MountPodKeys;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;

/**
 * What the volume's {@link MountPodKeys} and the node's Mount Pod settings add to a Mount Pod, in
 * the Go driver's shape: extra labels and annotations (never over the driver's own, which the
 * parser refuses and which are put last here anyway), the service account, the priority class and
 * preemption policy, the emptyDir and CSI inline cache volumes (at {@code /var/jfsCache-emptyDir}
 * and {@code /var/jfsCache-inlineVolume-<i>}, which the {@code cache-dir} option then names), and
 * the host paths, each mounted at its own path; and the volume's RSA key as a file from the
 * client's Secret.
 */
final class MountPodExtras {
  private MountPodExtras() {}

  /** Cache volumes and their mounts, and the paths in the container that cache-dir lists. */
  record CacheVolumes(List<Volume> volumes, List<VolumeMount> mounts, List<String> paths) {}

  /** The volume's cache volumes; its emptyDir only if {@code emptyDirTaken} is false. */
  static CacheVolumes caches(MountPodKeys keys, boolean emptyDirTaken) {
    List<Volume> volumes = new ArrayList<>();
    List<VolumeMount> mounts = new ArrayList<>();
    List<String> paths = new ArrayList<>();
    keys.cacheEmptyDir()
        .filter(e -> !emptyDirTaken)
        .ifPresent(
            e -> {
              var dir = new VolumeBuilder().withName("cachedir-empty-dir").withNewEmptyDir();
              if (!e.medium().isEmpty()) {
                dir.withMedium(e.medium());
              }
              e.sizeLimit().ifPresent(s -> dir.withSizeLimit(new Quantity(s)));
              volumes.add(dir.endEmptyDir().build());
              mounts.add(mount("cachedir-empty-dir", MountPodKeys.EMPTYDIR_PATH));
              paths.add(MountPodKeys.EMPTYDIR_PATH);
            });
    List<MountPodKeys.InlineVolume> inline = keys.cacheInlineVolumes();
    for (int i = 0; i < inline.size(); i++) {
      MountPodKeys.InlineVolume v = inline.get(i);
      var csi = new CSIVolumeSourceBuilder().withDriver(v.driver());
      v.readOnly().ifPresent(csi::withReadOnly);
      v.fsType().ifPresent(csi::withFsType);
      if (!v.volumeAttributes().isEmpty()) {
        csi.withVolumeAttributes(v.volumeAttributes());
      }
      v.secretName().ifPresent(s -> csi.withNodePublishSecretRef(new LocalObjectReference(s)));
      String name = "cachedir-inline-volume-" + i;
      String path = MountPodKeys.INLINE_PATH_PREFIX + i;
      volumes.add(new VolumeBuilder().withName(name).withCsi(csi.build()).build());
      mounts.add(mount(name, path));
      paths.add(path);
    }
    return new CacheVolumes(List.copyOf(volumes), List.copyOf(mounts), List.copyOf(paths));
  }

  /**
   * Adds the rest to a built pod: host paths not mounted already (a host path that is also a cache
   * directory is mounted once), metadata, service account and scheduling settings. Labels and
   * annotations of the driver already on the pod win over the volume's.
   */
  static void apply(
      PodBuilder pod, VolumeSettings settings, String secretName, KubeRuntimeConfig config) {
    MountPodKeys keys = settings.mountPodKeys();
    var built = pod.build();
    var container = built.getSpec().getContainers().get(0);
    Set<String> mounted =
        Set.copyOf(container.getVolumeMounts().stream().map(VolumeMount::getMountPath).toList());
    List<Path> hostPaths = keys.hostPaths();
    List<Volume> volumes = new ArrayList<>();
    List<VolumeMount> mounts = new ArrayList<>();
    for (int i = 0; i < hostPaths.size(); i++) {
      String path = hostPaths.get(i).toString();
      if (mounted.contains(path)) {
        continue;
      }
      String name = "hostpath-" + i;
      volumes.add(
          new VolumeBuilder()
              .withName(name)
              .withNewHostPath()
              .withPath(path)
              .endHostPath()
              .build());
      mounts.add(mount(name, path));
    }
    if (settings.encryptRsaKey().isPresent()) {
      // From the client's Secret as a read-only file; never in the spec, as in the Go driver.
      Path file = ClientCommand.RSA_KEY_IN_POD;
      volumes.add(
          new VolumeBuilder()
              .withName("rsa-key")
              .withNewSecret()
              .withSecretName(secretName)
              .addNewItem()
              .withKey(MountPodSecret.RSA_KEY)
              .withPath(file.getFileName().toString())
              .withMode(0400)
              .endItem()
              .endSecret()
              .build());
      mounts.add(
          new VolumeMountBuilder()
              .withName("rsa-key")
              .withMountPath(file.getParent().toString())
              .withReadOnly(true)
              .build());
    }
    pod.editSpec()
        .addAllToVolumes(volumes)
        .editFirstContainer()
        .addAllToVolumeMounts(mounts)
        .endContainer()
        .endSpec();
    var labels = new LinkedHashMap<>(keys.labels());
    labels.putAll(built.getMetadata().getLabels());
    var annotations = new LinkedHashMap<>(keys.annotations());
    annotations.putAll(built.getMetadata().getAnnotations());
    pod.editMetadata().withLabels(labels).withAnnotations(annotations).endMetadata();
    if (keys.serviceAccount().isPresent()) {
      pod.editSpec().withServiceAccountName(keys.serviceAccount().get()).endSpec();
    } else if (!config.mountServiceAccount().isEmpty()) {
      // The node plugin's account, for the cloud identity bound to it, as in the Go driver; but
      // not its API token: it may create pods and read Secrets, and the client needs neither.
      pod.editSpec()
          .withServiceAccountName(config.mountServiceAccount())
          .withAutomountServiceAccountToken(false)
          .endSpec();
    }
    if (!config.priorityClass().isEmpty()) {
      pod.editSpec().withPriorityClassName(config.priorityClass()).endSpec();
    }
    if (!config.preemptionPolicy().isEmpty()) {
      pod.editSpec().withPreemptionPolicy(config.preemptionPolicy()).endSpec();
    }
  }

  private static VolumeMount mount(String name, String path) {
    return new VolumeMountBuilder().withName(name).withMountPath(path).build();
  }
}
