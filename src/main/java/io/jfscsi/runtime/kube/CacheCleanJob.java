package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Job that removes a stopped client's cache on this node: pinned to the node, the volume's
 * hostPath cache directories mounted at the same paths, {@code rm -rf <dir>/<UUID>} for each
 * (JuiceFS keeps a volume's blocks in CACHE_DIR/UUID; a cache directory is often shared by several
 * volumes, so only the volume's own sub-directory goes). Pure function.
 */
final class CacheCleanJob {
  private CacheCleanJob() {}

  static final String LABEL = MountPodNames.OWN + "clean-cache";

  static Job build(KubeRuntimeConfig config, VolumeSettings settings, String uuid, String name) {
    return build(config, settings, uuid, name, MountPodBuilder.caches(settings).hostDirs());
  }

  /** A Job that empties {@code dirs}, the host cache directories the client's pod had. */
  static Job build(
      KubeRuntimeConfig config,
      VolumeSettings settings,
      String uuid,
      String name,
      List<Path> dirs) {
    if (!uuid.matches("[0-9a-fA-F-]{8,64}")) {
      throw new IllegalArgumentException("not a volume UUID");
    }
    List<Volume> volumes = new ArrayList<>();
    List<VolumeMount> mounts = new ArrayList<>();
    List<String> commands = new ArrayList<>();
    for (int i = 0; i < dirs.size(); i++) {
      String dir = dirs.get(i).toString();
      volumes.add(
          new VolumeBuilder()
              .withName("cachedir-" + i)
              .withNewHostPath()
              .withPath(dir)
              .withType("DirectoryOrCreate")
              .endHostPath()
              .build());
      mounts.add(new VolumeMountBuilder().withName("cachedir-" + i).withMountPath(dir).build());
      commands.add(
          ClientCommand.shellLine(List.of("rm", "-rf", dirs.get(i).resolve(uuid).toString())));
    }
    String script = commands.isEmpty() ? "true" : String.join(" && ", commands);
    return new JobBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(config.namespace())
        .addToLabels(MountPodNames.APP_LABEL, "juicefs-clean-cache")
        .addToLabels(LABEL, MountPodNames.volumeLabel(settings.volumeId()))
        .endMetadata()
        .withNewSpec()
        .withBackoffLimit(2)
        .withActiveDeadlineSeconds(600L)
        .withTtlSecondsAfterFinished(60)
        .withNewTemplate()
        .withNewMetadata()
        .addToLabels(MountPodNames.APP_LABEL, "juicefs-clean-cache")
        .endMetadata()
        .withNewSpec()
        .withNodeName(config.nodeName())
        .withRestartPolicy("Never")
        .addNewContainer()
        .withName("clean-cache")
        .withImage(settings.mountImage().orElse(config.mountImage()))
        .withCommand("sh", "-c", script)
        .withVolumeMounts(mounts)
        .withNewSecurityContext()
        .withRunAsUser(0L)
        .endSecurityContext()
        .endContainer()
        .withVolumes(volumes)
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }
}
