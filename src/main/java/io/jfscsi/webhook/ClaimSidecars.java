package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.SafeNames;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.kube.ConfigMapPatches;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.kube.MountPodBuilder;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.MountPodSecret;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import io.jfscsi.runtime.kube.configmap.MountPodPatch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The clients of one app pod, made claim by claim for {@link SidecarInjection}: each claim's client
 * container ({@link SidecarContainer}) with the Mount Pod's volumes renamed apart from the pod's
 * ({@link PodNames}), its Secret owned by the claim, and the pod's volumes of the claim replaced by
 * the client's mount. The pod's own containers get their mounts of a claim made read-only or
 * propagated here; what is collected is placed in the pod by {@link SidecarInjection}.
 */
final class ClaimSidecars {
  private static final String CONTAINER = SidecarInjection.CONTAINER;

  private final Pod pod;
  private final KubeRuntimeConfig config;
  private final GlobalConfig global;
  private final Supplier<String> suffixes;
  private final SidecarVariant variant;
  private final PodNames names;
  private final List<Container> sidecars = new ArrayList<>();
  private final List<Set<String>> volumesOf = new ArrayList<>();
  private final List<ServerlessShape.VciMount> vciMounts = new ArrayList<>();
  private final List<Volume> added = new ArrayList<>();
  private final List<Secret> secrets = new ArrayList<>();
  private final Map<String, Volume> replaced = new HashMap<>();

  /** For {@code pod}, a copy of the app pod, whose containers' mounts are changed in place. */
  ClaimSidecars(
      Pod pod,
      KubeRuntimeConfig config,
      GlobalConfig global,
      Supplier<String> suffixes,
      SidecarVariant variant) {
    this.pod = pod;
    this.config = config;
    this.global = global;
    this.suffixes = suffixes;
    this.variant = variant;
    this.names = new PodNames(pod);
  }

  /**
   * Adds the client of the next claim; empty, or why the pod is refused: the message names the
   * claim and never a secret value.
   */
  Optional<String> add(SidecarClaim claim) {
    int i = sidecars.size();
    VolumeSettings settings;
    ClientKey key;
    Path mountPath;
    MountPodPatch patch;
    try {
      if (variant == SidecarVariant.VCI && claim.podVolumes().size() != 1) {
        throw new Failure(
            Failure.Code.INVALID_ARGUMENT,
            "on VCI a claim's mount reaches the app through one volume, and the pod has "
                + claim.podVolumes().size()
                + " of this claim ("
                + String.join(", ", claim.podVolumes())
                + ")");
      }
      VolumeSettings parsed = SettingsParser.parse(claim.source());
      key = new ClientKey(claim.source().volumeId(), parsed.clientHash());
      Path root = variant.hostless() ? ServerlessShape.CONTAINER_ROOT : config.mountRoot();
      mountPath = MountPodNames.mountPath(root, key, suffixes.get());
      ConfigMapPatches.Patched patched = SidecarPatch.of(global, claim, parsed, mountPath);
      patch = patched.patch();
      settings = ServerlessShape.settings(variant, withMetricsPort(patched.settings(), i));
    } catch (Failure e) {
      return Optional.of(
          "JuiceFS claim "
              + claim.qualifiedName()
              + " (volume "
              + claim.source().volumeId()
              + ") cannot be mounted in a sidecar: "
              + e.getMessage());
    }
    MountPodSecret secret = MountPodSecret.of(secretName(claim.claimName()), settings);
    Pod client =
        MountPodBuilder.build(
            config,
            new MountPodBuilder.Identity(key, "sidecar", mountPath),
            settings,
            secret,
            patch);
    List<Volume> clientVolumes = client.getSpec().getVolumes();
    Map<String, String> renames = new HashMap<>();
    for (Volume v : ServerlessShape.volumes(variant, clientVolumes)) {
      String name = names.volume(v.getName() + (i == 0 ? "" : "-" + i));
      renames.put(v.getName(), name);
      added.add(new VolumeBuilder(v).withName(name).build());
    }
    // The Go driver names a VCI client for its claim: VCI's annotation names the container.
    String containerName =
        names.container(
            variant == SidecarVariant.VCI
                ? CONTAINER + "-" + claim.claimName()
                : CONTAINER + (i == 0 ? "" : "-" + i));
    // A hostless client mounts the sub-path itself (subdir), so the app sees its mount root.
    String subPath = variant.hostless() ? "" : settings.subPath();
    Container shaped =
        ServerlessShape.container(
            variant, client.getSpec().getContainers().getFirst(), clientVolumes);
    sidecars.add(
        ServerlessShape.withAppVolume(
            variant,
            SidecarContainer.of(shaped, containerName, renames, mountPath, subPath, i, config),
            claim.podVolumes().getFirst(),
            mountPath));
    volumesOf.add(Set.copyOf(claim.podVolumes()));
    if (variant == SidecarVariant.VCI) {
      vciMounts.add(new ServerlessShape.VciMount(containerName, mountPath.toString()));
    }
    secrets.add(owned(secret.toSecret(claim.namespace()), claim));
    Path source = subPath.isEmpty() ? mountPath : mountPath.resolve(subPath);
    claim
        .podVolumes()
        .forEach(v -> replaced.put(v, ServerlessShape.appVolume(variant, v, source, mountPath)));
    if (claim.readOnly()) {
      readOnlyMounts(claim.podVolumes());
    }
    String propagation = ServerlessShape.appPropagation(variant);
    if (propagation != null) {
      appMounts(claim.podVolumes()).forEach(m -> m.setMountPropagation(propagation));
    }
    return Optional.empty();
  }

  /** The client containers, in the order of the claims. */
  List<Container> sidecars() {
    return sidecars;
  }

  /** For each client, the pod's volumes of its claim. */
  List<Set<String>> volumesOf() {
    return volumesOf;
  }

  /** The VCI clients' mounts, for the pod's annotation; empty for the other variants. */
  List<ServerlessShape.VciMount> vciMounts() {
    return vciMounts;
  }

  /** The clients' own volumes, renamed apart from the pod's. */
  List<Volume> added() {
    return added;
  }

  /** The pod's volumes of a claim, by name, as they become: its client's mount. */
  Map<String, Volume> replaced() {
    return replaced;
  }

  /** One Secret per claim. */
  List<Secret> secrets() {
    return secrets;
  }

  /**
   * The i-th client's metrics port is 9567 + i unless the volume (or the ConfigMap) names one,
   * since the clients of one pod share its network.
   */
  private static VolumeSettings withMetricsPort(VolumeSettings settings, int i) {
    boolean ownPort =
        settings.mountOptions().stream()
            .anyMatch(o -> o.equals("metrics") || o.startsWith("metrics="));
    return ownPort
        ? settings
        : SettingsParser.withMountOptions(
            settings, List.of("metrics=0.0.0.0:" + metricsPort(i)), "the sidecar's metrics port");
  }

  private static int metricsPort(int i) {
    return MountPodBuilder.METRICS_PORT + i;
  }

  private void readOnlyMounts(List<String> volumes) {
    appMounts(volumes).forEach(m -> m.setReadOnly(true));
  }

  /** The mounts of {@code volumes} in the pod's containers and init containers. */
  private List<VolumeMount> appMounts(List<String> volumes) {
    List<Container> all = new ArrayList<>(pod.getSpec().getContainers());
    if (pod.getSpec().getInitContainers() != null) {
      all.addAll(pod.getSpec().getInitContainers());
    }
    List<VolumeMount> mounts = new ArrayList<>();
    for (Container c : all) {
      if (c.getVolumeMounts() != null) {
        c.getVolumeMounts().stream()
            .filter(m -> volumes.contains(m.getName()))
            .forEach(mounts::add);
      }
    }
    return mounts;
  }

  /** The Go driver's Secret name per claim, {@code <claim>-jfs-secret}, within 253 characters. */
  static String secretName(String claimName) {
    String suffix = "-jfs-secret";
    if (claimName.length() + suffix.length() <= 253) {
      return claimName + suffix;
    }
    String digest = SafeNames.sha256(claimName).substring(0, 10);
    return claimName.substring(0, 253 - suffix.length() - 11).replaceAll("[.-]+$", "")
        + "-"
        + digest
        + suffix;
  }

  /** The claim owns its Secret: it goes when the claim goes. */
  private static Secret owned(Secret secret, SidecarClaim claim) {
    if (claim.claimUid().isEmpty()) {
      return secret;
    }
    secret
        .getMetadata()
        .setOwnerReferences(
            List.of(
                new OwnerReferenceBuilder()
                    .withApiVersion("v1")
                    .withKind("PersistentVolumeClaim")
                    .withName(claim.claimName())
                    .withUid(claim.claimUid())
                    .build()));
    return secret;
  }
}
