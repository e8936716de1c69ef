package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.jfscsi.Failure;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import tools.jackson.core.JacksonException;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;

/**
 * What the serverless variants ({@link SidecarVariant}) change in a client and in the app pod, as
 * the Go driver's serverless builders do. Generic serverless keeps the mount root's hostPath and
 * privilege and drops every other hostPath (host cache directories: the cache stays in the
 * container unless a cache claim, emptyDir or inline volume is given). VCI and CCI use no hostPath
 * at all and mount the volume's sub-directory itself ({@code subdir}); VCI runs the client as root
 * without privilege and shares the mount through the app's volume made an emptyDir, with the
 * annotations that turn on VCI's bidirectional propagation; CCI adds SYS_ADMIN and MKNOD and hands
 * the mount point to CCI's own CSI driver. Pure.
 */
final class ServerlessShape {
  private ServerlessShape() {}

  /** Where VCI and CCI clients mount, inside their container (the Go driver's PodMountBase). */
  static final Path CONTAINER_ROOT = Path.of("/jfs");

  static final String VCI_PROPAGATION =
      "vci.vke.volcengine.com/config-bidirectional-mount-propagation";
  static final String VCI_PROPAGATION_SWITCH = "vke.al.vci-enable-bidirectional-mount-propagation";
  static final String CCI_DRIVER = "juicefs.csi.everest.io";
  static final String CCI_FS_TYPE = "gpath";

  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** One entry of VCI's propagation annotation: a container and a path it mounts on. */
  record VciMount(String container, String mountPath) {}

  /** The settings a client of {@code variant} mounts with: hostless ones mount the sub-path. */
  static VolumeSettings settings(SidecarVariant variant, VolumeSettings s) {
    if (!variant.hostless() || s.subPath().isEmpty()) {
      return s;
    }
    String subdir =
        s.mountOptions().stream()
            .filter(o -> o.startsWith("subdir="))
            .map(o -> o.substring("subdir=".length()))
            .reduce((a, b) -> b)
            .orElse("");
    String joined = (subdir + "/" + s.subPath()).replaceAll("/+", "/").replaceAll("^/", "");
    return SettingsParser.withMountOptions(
        s, List.of("subdir=" + joined), "the serverless sidecar's sub-directory");
  }

  /** The client's volumes for {@code variant}: the hostPaths it may not have are gone. */
  static List<Volume> volumes(SidecarVariant variant, List<Volume> volumes) {
    return volumes.stream().filter(v -> !dropped(variant, v)).toList();
  }

  /**
   * The client's container for {@code variant}, its mounts of dropped volumes gone; {@code volumes}
   * are the Mount Pod's, before {@link #volumes} filtered them.
   */
  static Container container(SidecarVariant variant, Container c, List<Volume> volumes) {
    Set<String> gone =
        volumes.stream()
            .filter(v -> dropped(variant, v))
            .map(Volume::getName)
            .collect(Collectors.toSet());
    List<VolumeMount> mounts =
        c.getVolumeMounts().stream().filter(m -> !gone.contains(m.getName())).toList();
    ContainerBuilder b = new ContainerBuilder(c).withVolumeMounts(mounts);
    if (!variant.hostless()) {
      return b.build();
    }
    List<EnvVar> env = new ArrayList<>(c.getEnv());
    env.add(new EnvVarBuilder().withName("JFS_NO_UMOUNT").withValue("1").build());
    if (variant == SidecarVariant.CCI) {
      env.add(
          new EnvVarBuilder()
              .withName("JUICEFS_CLIENT_SIDERCAR_CONTAINER") // sic: the name CCI reads
              .withValue("true")
              .build());
      env.add(
          new EnvVarBuilder()
              .withName("JUICEFS_CLIENT_PATH")
              .withValue(CONTAINER_ROOT.toString())
              .build());
    }
    return b.withEnv(env).withSecurityContext(securityContext(variant)).build();
  }

  /** A VCI client also mounts the app's volume, an emptyDir, at its mount point. */
  static Container withAppVolume(
      SidecarVariant variant, Container c, String podVolume, Path mountPath) {
    if (variant != SidecarVariant.VCI) {
      return c;
    }
    return new ContainerBuilder(c)
        .addToVolumeMounts(
            new VolumeMountBuilder()
                .withName(podVolume)
                .withMountPath(mountPath.toString())
                .build())
        .build();
  }

  /** The app's volume {@code name} of a claim whose client mounts at {@code mountPath}. */
  static Volume appVolume(SidecarVariant variant, String name, Path hostSource, Path mountPath) {
    VolumeBuilder b = new VolumeBuilder().withName(name);
    return switch (variant) {
      case VCI -> b.withNewEmptyDir().endEmptyDir().build();
      case CCI ->
          b.withNewCsi()
              .withDriver(CCI_DRIVER)
              .withFsType(CCI_FS_TYPE)
              .withVolumeAttributes(Map.of("mountpoint", mountPath.getFileName().toString()))
              .endCsi()
              .build();
      // No type: kubelet must not create the directory on the host before the client mounts
      // over it; the hook has made it inside the mount by then.
      case HOST, SERVERLESS ->
          b.withNewHostPath().withPath(hostSource.toString()).endHostPath().build();
    };
  }

  /** The propagation the app's mounts of the volume need, or null to leave them as they are. */
  static String appPropagation(SidecarVariant variant) {
    return switch (variant) {
      case VCI -> "HostToContainer";
      case CCI -> "None";
      case HOST, SERVERLESS -> null;
    };
  }

  /**
   * The pod's annotations with VCI's propagation switch and {@code mounts} added before the entries
   * the pod has; an entry that is not VCI's JSON list refuses the pod rather than being lost.
   */
  static Map<String, String> vciAnnotations(
      Map<String, String> annotations, List<VciMount> mounts) {
    Map<String, String> out = new LinkedHashMap<>(annotations == null ? Map.of() : annotations);
    List<VciMount> all = new ArrayList<>(mounts);
    String existing = out.get(VCI_PROPAGATION);
    if (existing != null && !existing.isBlank()) {
      try {
        all.addAll(MAPPER.readValue(existing, new TypeReference<List<VciMount>>() {}));
      } catch (JacksonException e) {
        throw new Failure(
            Failure.Code.INVALID_ARGUMENT,
            "the pod's annotation "
                + VCI_PROPAGATION
                + " is not a JSON list of {\"container\", \"mountPath\"}: "
                + e.getOriginalMessage());
      }
    }
    out.put(VCI_PROPAGATION_SWITCH, VCI_PROPAGATION_SWITCH);
    out.put(VCI_PROPAGATION, MAPPER.writeValueAsString(all));
    return out;
  }

  private static boolean dropped(SidecarVariant variant, Volume v) {
    if (v.getHostPath() == null) {
      return false;
    }
    return switch (variant) {
      case HOST -> false;
      case SERVERLESS -> !"jfs-dir".equals(v.getName());
      case VCI, CCI -> true;
    };
  }

  private static SecurityContext securityContext(SidecarVariant variant) {
    SecurityContextBuilder b = new SecurityContextBuilder().withRunAsUser(0L);
    if (variant == SidecarVariant.CCI) {
      b.withNewCapabilities().withAdd("SYS_ADMIN", "MKNOD").endCapabilities();
    }
    return b.build();
  }
}
