package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.ClientResources;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.kube.configmap.MountPodPatch;
import io.jfscsi.runtime.kube.configmap.PatchCacheDir;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Mount Pod of one client, as a pure function of its settings (no API calls): the Go driver's
 * shape (container {@code jfs-mount}, privileged, {@code sh -c "format && exec mount"}, the mount
 * root on a hostPath with Bidirectional propagation, hostPath caches, labels and annotations of
 * {@link MountPodNames}) with two differences: every hostPath is mounted at the same path inside
 * (so host path == container path, no translation), and no secret value is in the spec (see {@link
 * MountPodSecret}).
 *
 * <p>restartPolicy is Always, not the Go driver's OnFailure: a client that exits while targets need
 * it must come back whatever its exit status (an exit 0 after an outside unmount would otherwise
 * leave a Completed pod that only a new pod can replace); the driver deletes the pod when it wants
 * it gone.
 */
public final class MountPodBuilder {
  private MountPodBuilder() {}

  public static final int METRICS_PORT = 9567;
  static final Path DEFAULT_CACHE = Path.of("/var/jfsCache");

  /** The Go driver's defaults when a volume sets no resources. */
  static final ClientResources GO_DEFAULTS =
      new ClientResources(
          Optional.of(1000L), Optional.of(5000L), Optional.of(1L << 30), Optional.of(5L << 30));

  /** What identifies one pod of a client. */
  public record Identity(ClientKey key, String podName, Path mountPath) {}

  public static Pod build(
      KubeRuntimeConfig config, Identity id, VolumeSettings settings, MountPodSecret secret) {
    return build(config, id, settings, secret, MountPodPatch.NONE);
  }

  /**
   * The pod with the ConfigMap's {@code patch} (already merged and with its templates filled in)
   * applied: its cache directories here, every other field by {@link ConfigMapPatch}.
   */
  public static Pod build(
      KubeRuntimeConfig config,
      Identity id,
      VolumeSettings settings,
      MountPodSecret secret,
      MountPodPatch patch) {
    Pod pod = unpatched(config, id, settings, secret, patch);
    return ConfigMapPatch.apply(pod, patch);
  }

  /**
   * The port the client serves its metrics on, as its {@code metrics=[host]:port} option says (a
   * volume or the ConfigMap may name one), else {@value #METRICS_PORT}: the container's named port
   * {@code metrics} must be the one a scraper finds the client on.
   */
  static int metricsPort(List<String> options) {
    for (String o : options) {
      if (o.startsWith("metrics=")) {
        String address = o.substring("metrics=".length());
        try {
          int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
          if (port > 0 && port < 65536) {
            return port;
          }
        } catch (NumberFormatException e) {
          // not a port: the default below
        }
      }
    }
    return METRICS_PORT;
  }

  private static Pod unpatched(
      KubeRuntimeConfig config,
      Identity id,
      VolumeSettings settings,
      MountPodSecret secret,
      MountPodPatch patch) {
    Caches caches = caches(settings, patch.cacheDirs() == null ? List.of() : patch.cacheDirs());
    List<String> options = new ArrayList<>(caches.mountOptions());
    if (options.stream().noneMatch(o -> o.equals("metrics") || o.startsWith("metrics="))) {
      options.add("metrics=0.0.0.0:" + METRICS_PORT);
    }
    VolumeSettings c = secret.command();
    VolumeSettings command =
        new VolumeSettings(
            c.source(),
            c.fsName(),
            c.metaUrl(),
            c.storage(),
            c.bucket(),
            c.accessKey(),
            c.secretKey(),
            c.formatOptions(),
            c.envs(),
            c.configs(),
            List.copyOf(options),
            c.subPath(),
            c.deleteDelay(),
            c.cleanCache(),
            c.cacheDirs(),
            c.resources(),
            c.mountImage(),
            c.cachePvc(),
            c.clientHash());
    String script =
        ClientCommand.shellLine(ClientCommand.DEFAULT.formatArgs(command))
            + " && exec "
            + ClientCommand.shellLine(ClientCommand.DEFAULT.mountArgs(command, id.mountPath()));

    List<Volume> volumes = new ArrayList<>(caches.volumes());
    List<VolumeMount> mounts = new ArrayList<>(caches.mounts());
    String root = config.mountRoot().toString();
    volumes.add(
        0,
        new VolumeBuilder()
            .withName("jfs-dir")
            .withNewHostPath()
            .withPath(root)
            .withType("DirectoryOrCreate")
            .endHostPath()
            .build());
    mounts.add(
        0,
        new VolumeMountBuilder()
            .withName("jfs-dir")
            .withMountPath(root)
            .withMountPropagation("Bidirectional")
            .build());
    int n = 0;
    for (Map.Entry<String, String> e : settings.configs().entrySet()) {
      String name = "config-" + n++;
      volumes.add(
          new VolumeBuilder()
              .withName(name)
              .withNewSecret()
              .withSecretName(e.getKey())
              .endSecret()
              .build());
      mounts.add(new VolumeMountBuilder().withName(name).withMountPath(e.getValue()).build());
    }
    List<EnvVar> env = new ArrayList<>();
    env.add(new EnvVarBuilder().withName("JFS_FOREGROUND").withValue("1").build());
    env.add(new EnvVarBuilder().withName("JFS_INSIDE_CONTAINER").withValue("1").build());
    env.addAll(secret.env());

    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(MountPodNames.APP_LABEL, MountPodNames.APP);
    labels.put(MountPodNames.VOLUME_ID_LABEL, MountPodNames.volumeLabel(id.key().volumeId()));
    labels.put(MountPodNames.HASH_LABEL, MountPodNames.hashLabel(id.key().settingsHash()));
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(MountPodNames.UNIQUE_ID, id.key().volumeId());
    if (settings.deleteDelay().compareTo(Duration.ZERO) > 0) {
      annotations.put(MountPodNames.DELETE_DELAY, goDuration(settings.deleteDelay()));
    }
    if (settings.cleanCache()) {
      annotations.put(MountPodNames.CLEAN_CACHE, "true");
    }
    annotations.put(MountPodNames.CLIENT_HASH, id.key().settingsHash());
    annotations.put(MountPodNames.MOUNT_PATH, id.mountPath().toString());
    annotations.put(MountPodNames.SOURCE, PodSource.of(settings.source(), secret.name()).toJson());

    var container =
        new ContainerBuilder()
            .withName(MountPodNames.CONTAINER)
            .withImage(settings.mountImage().orElse(config.mountImage()))
            .withCommand("sh", "-c", script)
            // A crash's last words in the pod status (lastState.terminated.message), for the
            // doctor.
            .withTerminationMessagePolicy("FallbackToLogsOnError")
            .withEnv(env)
            .withNewSecurityContext()
            .withPrivileged(true)
            .withRunAsUser(0L)
            .endSecurityContext()
            .addNewPort()
            .withName("metrics")
            .withContainerPort(metricsPort(options))
            .withProtocol("TCP")
            .endPort()
            .withResources(resources(settings.resources()))
            .withVolumeMounts(mounts)
            .build();
    var spec =
        new PodBuilder()
            .withNewMetadata()
            .withName(id.podName())
            .withNamespace(config.namespace())
            .withLabels(labels)
            .withAnnotations(annotations)
            .addToFinalizers(MountPodNames.FINALIZER)
            .endMetadata()
            .withNewSpec()
            .withNodeName(config.nodeName())
            .withRestartPolicy("Always")
            .withTerminationGracePeriodSeconds(config.terminationGrace().toSeconds())
            .withContainers(container)
            .withVolumes(volumes)
            .endSpec();
    MountPodExtras.apply(spec, settings, secret.name(), config);
    return spec.build();
  }

  /** Cache volumes and mounts, and the mount options with {@code cache-dir} pointing at them. */
  record Caches(
      List<Volume> volumes,
      List<VolumeMount> mounts,
      List<String> mountOptions,
      List<Path> hostDirs) {}

  static Caches caches(VolumeSettings s) {
    return caches(s, List.of());
  }

  /**
   * As {@link #caches(VolumeSettings)}, with the ConfigMap's {@code cacheDirs} added as the Go
   * driver adds them: claims after those of {@code juicefs/mount-cache-pvc}, one emptyDir at {@code
   * /var/jfsCache-emptyDir}, host directories; any of them replaces the default {@code
   * /var/jfsCache}.
   */
  static Caches caches(VolumeSettings s, List<PatchCacheDir> extra) {
    List<Volume> volumes = new ArrayList<>();
    List<VolumeMount> mounts = new ArrayList<>();
    List<String> options = new ArrayList<>(s.mountOptions());
    boolean explicit = options.stream().anyMatch(o -> o.startsWith("cache-dir="));
    List<String> inContainer = new ArrayList<>();
    List<String> pvcs =
        new ArrayList<>(s.cachePvc().map(p -> List.of(p.split(","))).orElse(List.of()));
    Optional<PatchCacheDir> emptyDir = Optional.empty();
    List<Path> patchHostDirs = new ArrayList<>();
    for (PatchCacheDir dir : extra) {
      switch (dir.type()) {
        case "PVC" -> pvcs.add(dir.name());
        case "EmptyDir" -> emptyDir = emptyDir.or(() -> Optional.of(dir));
        default -> patchHostDirs.add(Path.of(dir.path()));
      }
    }
    for (int i = 0; i < pvcs.size(); i++) {
      String path = "/var/jfsCache-" + i;
      volumes.add(
          new VolumeBuilder()
              .withName("cachedir-pvc-" + i)
              .withNewPersistentVolumeClaim()
              .withClaimName(pvcs.get(i))
              .endPersistentVolumeClaim()
              .build());
      mounts.add(
          new VolumeMountBuilder().withName("cachedir-pvc-" + i).withMountPath(path).build());
      inContainer.add(path);
    }
    if (emptyDir.isPresent()) {
      String path = "/var/jfsCache-emptyDir";
      volumes.add(
          new VolumeBuilder()
              .withName("cachedir-empty-dir")
              .withNewEmptyDir()
              .withMedium(emptyDir.get().medium())
              .withSizeLimit(emptyDir.get().sizeLimit())
              .endEmptyDir()
              .build());
      mounts.add(
          new VolumeMountBuilder().withName("cachedir-empty-dir").withMountPath(path).build());
      inContainer.add(path);
    }
    // The volume's emptyDir and inline volumes; the ConfigMap's emptyDir wins over the volume's
    // (both would be /var/jfsCache-emptyDir), as the ConfigMap wins in the Go driver.
    MountPodExtras.CacheVolumes keyed =
        MountPodExtras.caches(s.mountPodKeys(), emptyDir.isPresent());
    volumes.addAll(keyed.volumes());
    mounts.addAll(keyed.mounts());
    inContainer.addAll(keyed.paths());
    boolean replaced =
        !pvcs.isEmpty()
            || emptyDir.isPresent()
            || !keyed.paths().isEmpty()
            || !patchHostDirs.isEmpty();
    List<Path> hostDirs = new ArrayList<>();
    if (explicit || pvcs.isEmpty()) {
      List<Path> dirs =
          s.cacheDirs().isEmpty() && !explicit ? List.of(DEFAULT_CACHE) : s.cacheDirs();
      if (!explicit && replaced) {
        dirs = List.of();
      }
      for (Path dir : dirs) {
        if (dir.isAbsolute()) {
          hostDirs.add(dir);
        }
      }
    }
    patchHostDirs.stream().filter(d -> !hostDirs.contains(d)).forEach(hostDirs::add);
    for (int i = 0; i < hostDirs.size(); i++) {
      String path = hostDirs.get(i).toString();
      volumes.add(
          new VolumeBuilder()
              .withName("cachedir-" + i)
              .withNewHostPath()
              .withPath(path)
              .withType("DirectoryOrCreate")
              .endHostPath()
              .build());
      mounts.add(new VolumeMountBuilder().withName("cachedir-" + i).withMountPath(path).build());
      inContainer.add(path);
    }
    if (replaced) {
      // The in-container paths replace the option; hostPath dirs keep theirs.
      options.removeIf(o -> o.startsWith("cache-dir="));
      options.add("cache-dir=" + String.join(":", inContainer));
    }
    return new Caches(
        List.copyOf(volumes), List.copyOf(mounts), List.copyOf(options), List.copyOf(hostDirs));
  }

  /**
   * Requests and limits: those the volume sets; a volume that sets none of a resource gets the Go
   * driver's defaults for it (1 CPU / 1Gi requested, 5 CPU / 5Gi limit).
   */
  static ResourceRequirements resources(ClientResources r) {
    boolean cpu = r.cpuRequestMillis().isPresent() || r.cpuLimitMillis().isPresent();
    boolean mem = r.memoryRequestBytes().isPresent() || r.memoryLimitBytes().isPresent();
    ClientResources d = GO_DEFAULTS;
    Optional<Long> cpuReq = cpu ? r.cpuRequestMillis() : d.cpuRequestMillis();
    Optional<Long> cpuLim = cpu ? r.cpuLimitMillis() : d.cpuLimitMillis();
    Optional<Long> memReq = mem ? r.memoryRequestBytes() : d.memoryRequestBytes();
    Optional<Long> memLim = mem ? r.memoryLimitBytes() : d.memoryLimitBytes();
    var b = new ResourceRequirementsBuilder();
    // A value of 0 or less drops the field, as in the Go driver.
    cpuReq.filter(v -> v > 0).ifPresent(v -> b.addToRequests("cpu", new Quantity(v + "m")));
    cpuLim.filter(v -> v > 0).ifPresent(v -> b.addToLimits("cpu", new Quantity(v + "m")));
    memReq
        .filter(v -> v > 0)
        .ifPresent(v -> b.addToRequests("memory", new Quantity(String.valueOf(v))));
    memLim
        .filter(v -> v > 0)
        .ifPresent(v -> b.addToLimits("memory", new Quantity(String.valueOf(v))));
    return b.build();
  }

  /** A Go duration string ({@code 1h2m3.5s} style, as {@code time.Duration.String}). */
  static String goDuration(Duration d) {
    if (d.isZero()) {
      return "0s";
    }
    StringBuilder s = new StringBuilder();
    long hours = d.toHours();
    int minutes = d.toMinutesPart();
    if (hours > 0) {
      s.append(hours).append('h');
    }
    if (hours > 0 || minutes > 0) {
      s.append(minutes).append('m');
    }
    long nanos = d.toSecondsPart() * 1_000_000_000L + d.toNanosPart();
    if (hours == 0 && minutes == 0 && nanos < 1_000_000_000L) {
      return nanos % 1_000_000 == 0 ? nanos / 1_000_000 + "ms" : nanos + "ns";
    }
    s.append(new BigDecimal(nanos).movePointLeft(9).stripTrailingZeros().toPlainString())
        .append('s');
    return s.toString();
  }
}
