package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeDevice;
import io.fabric8.kubernetes.api.model.VolumeDeviceBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.kube.ConfigMapPatches;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.kube.MountPodBuilder;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.MountPodSecret;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import io.jfscsi.runtime.kube.configmap.MountPodPatch;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What the sidecar webhook does to one app pod, as a pure function of the pod and its JuiceFS
 * claims (no API calls): each claim gets a JuiceFS client container of the Mount Pod's shape
 * ({@link MountPodBuilder}: privileged, {@code format && exec mount}, the mount root on a hostPath
 * with Bidirectional propagation, no secret value in the spec), placed before the app's containers,
 * and the pod's volumes of that claim become the hostPath of its mount. The pod is labelled {@value
 * #DONE_LABEL}, as the Go driver labels it. A {@link Mode} chooses the serverless variants' shapes
 * ({@link ServerlessShape}) and native sidecars ({@link NativeSidecars}).
 *
 * <p>Better than the Go driver in three ways: a postStart hook holds the app containers back until
 * the client's mount answers (kubelet starts containers in order and waits for each hook), so an
 * app never sees the empty directory under the mount; each pod's client mounts at a path of its own
 * (two pods of one volume on a node never stack their mounts on one path); and a claim whose
 * settings the driver refuses ({@code writeback}, a bad option or key) refuses the pod with the
 * same message a publish would give, instead of a client that fails in the pod.
 *
 * <p>Each client has a preStop hook ({@link SidecarScripts#stopScript}) that unmounts and removes
 * its mount point, and {@link SidecarExitWatcher} runs that hook when the app containers of a Job's
 * pod are done, so the pod completes.
 */
public final class SidecarInjection {
  private SidecarInjection() {}

  /** The namespace label that turns injection on (the webhook's namespaceSelector). */
  public static final String NAMESPACE_LABEL = "juicefs.com/enable-injection";

  /** The Go driver's namespace label for its serverless webhook. */
  public static final String SERVERLESS_NAMESPACE_LABEL = "juicefs.com/enable-serverless-injection";

  /** A pod already injected: left alone (a re-invocation, or a pod made from an injected one). */
  public static final String DONE_LABEL = "done.sidecar.juicefs.com/inject";

  /** A pod that asks for no sidecar. */
  public static final String DISABLE_LABEL = "disable.sidecar.juicefs.com/inject";

  /**
   * The first sidecar's container is the Mount Pod's ({@code jfs-mount}), the next add -1, -2...
   */
  public static final String CONTAINER = MountPodNames.CONTAINER;

  private static final KubernetesSerialization JSON = new KubernetesSerialization();

  /** What becomes of a pod. */
  public sealed interface Outcome {
    /** Admitted as it is, for {@code reason}. */
    record Unchanged(String reason) implements Outcome {}

    /** Admitted as {@code pod}, once {@code secrets} (one per claim) are written. */
    record Injected(Pod pod, List<Secret> secrets) implements Outcome {}

    /** Refused with {@code message}, which names the claim and never a secret value. */
    record Refused(String message) implements Outcome {}
  }

  /** Why a pod is left alone before its claims are read, or empty when they must be. */
  public static Optional<String> skipReason(Pod pod) {
    Map<String, String> labels =
        pod.getMetadata() == null || pod.getMetadata().getLabels() == null
            ? Map.of()
            : pod.getMetadata().getLabels();
    if ("true".equals(labels.get(DONE_LABEL))) {
      return Optional.of("the pod is injected already (" + DONE_LABEL + "=true)");
    }
    if ("true".equals(labels.get(DISABLE_LABEL))) {
      return Optional.of("the pod opts out (" + DISABLE_LABEL + "=true)");
    }
    return Optional.empty();
  }

  /**
   * How the clients are made: their {@link SidecarVariant}, and whether they are native sidecars
   * (init containers with {@code restartPolicy: Always}, {@link NativeSidecars}) or containers
   * placed before the app's.
   */
  public record Mode(SidecarVariant variant, boolean nativeSidecars) {
    public static final Mode PLAIN = new Mode(SidecarVariant.HOST, false);
  }

  /** As {@link #decide(Pod, List, KubeRuntimeConfig, Supplier, Mode)} in {@link Mode#PLAIN}. */
  public static Outcome decide(
      Pod pod, List<SidecarClaim> claims, KubeRuntimeConfig config, Supplier<String> suffixes) {
    return decide(pod, claims, config, suffixes, Mode.PLAIN);
  }

  /**
   * The pod with a client for each of {@code claims}, made as {@code mode} says; {@code suffixes}
   * names each client's mount point (random in the webhook, fixed in tests).
   */
  public static Outcome decide(
      Pod pod,
      List<SidecarClaim> claims,
      KubeRuntimeConfig config,
      Supplier<String> suffixes,
      Mode mode) {
    return decide(pod, claims, config, GlobalConfig.DEFAULTS, suffixes, mode);
  }

  /**
   * As {@link #decide(Pod, List, KubeRuntimeConfig, Supplier, Mode)}, with the global ConfigMap's
   * {@code mountPodPatch} entries that select each claim applied to its client container ({@link
   * SidecarPatch}).
   */
  public static Outcome decide(
      Pod pod,
      List<SidecarClaim> claims,
      KubeRuntimeConfig config,
      GlobalConfig global,
      Supplier<String> suffixes,
      Mode mode) {
    Optional<String> skip = skipReason(pod);
    if (skip.isPresent()) {
      return new Outcome.Unchanged(skip.get());
    }
    if (claims.isEmpty()) {
      return new Outcome.Unchanged("the pod uses no JuiceFS volume");
    }
    Pod out = JSON.clone(pod);
    Set<String> names = new HashSet<>();
    out.getSpec().getVolumes().forEach(v -> names.add(v.getName()));
    out.getSpec().getContainers().forEach(c -> names.add("container:" + c.getName()));
    if (out.getSpec().getInitContainers() != null) {
      out.getSpec().getInitContainers().forEach(c -> names.add("container:" + c.getName()));
    }
    SidecarVariant variant = mode.variant();
    List<Container> sidecars = new ArrayList<>();
    List<Set<String>> volumesOf = new ArrayList<>();
    List<ServerlessShape.VciMount> vciMounts = new ArrayList<>();
    List<Volume> added = new ArrayList<>();
    List<Secret> secrets = new ArrayList<>();
    Map<String, Volume> replaced = new HashMap<>();
    for (int i = 0; i < claims.size(); i++) {
      SidecarClaim claim = claims.get(i);
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
        return new Outcome.Refused(
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
        String name = unique(names, v.getName() + (i == 0 ? "" : "-" + i));
        renames.put(v.getName(), name);
        added.add(new VolumeBuilder(v).withName(name).build());
      }
      // The Go driver names a VCI client for its claim: VCI's annotation names the container.
      String containerName =
          unique(
              names,
              variant == SidecarVariant.VCI
                  ? CONTAINER + "-" + claim.claimName()
                  : CONTAINER + (i == 0 ? "" : "-" + i),
              "container:");
      // A hostless client mounts the sub-path itself (subdir), so the app sees its mount root.
      String subPath = variant.hostless() ? "" : settings.subPath();
      Container shaped =
          ServerlessShape.container(
              variant, client.getSpec().getContainers().getFirst(), clientVolumes);
      sidecars.add(
          ServerlessShape.withAppVolume(
              variant,
              sidecar(shaped, containerName, renames, mountPath, subPath, i, config),
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
        readOnlyMounts(out, claim.podVolumes());
      }
      String propagation = ServerlessShape.appPropagation(variant);
      if (propagation != null) {
        appMounts(out, claim.podVolumes()).forEach(m -> m.setMountPropagation(propagation));
      }
    }
    if (!vciMounts.isEmpty()) {
      try {
        out.getMetadata()
            .setAnnotations(
                ServerlessShape.vciAnnotations(out.getMetadata().getAnnotations(), vciMounts));
      } catch (Failure e) {
        return new Outcome.Refused(e.getMessage());
      }
    }
    List<Volume> volumes = new ArrayList<>();
    for (Volume v : out.getSpec().getVolumes()) {
      volumes.add(replaced.getOrDefault(v.getName(), v));
    }
    volumes.addAll(added);
    out.getSpec().setVolumes(volumes);
    if (mode.nativeSidecars()) {
      List<Container> inits =
          out.getSpec().getInitContainers() == null ? List.of() : out.getSpec().getInitContainers();
      out.getSpec().setInitContainers(NativeSidecars.place(inits, sidecars, volumesOf));
    } else {
      List<Container> containers = new ArrayList<>(sidecars);
      containers.addAll(out.getSpec().getContainers());
      out.getSpec().setContainers(containers);
    }
    Map<String, String> labels =
        out.getMetadata().getLabels() == null
            ? new HashMap<>()
            : new HashMap<>(out.getMetadata().getLabels());
    labels.put(DONE_LABEL, "true");
    out.getMetadata().setLabels(labels);
    return new Outcome.Injected(out, List.copyOf(secrets));
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

  static int metricsPort(int i) {
    return MountPodBuilder.METRICS_PORT + i;
  }

  /**
   * The Mount Pod's container as a sidecar: named for its place, its volume mounts renamed with the
   * volumes, the mount point made before the client starts (no node plugin makes it here), its
   * metrics port its own, and a postStart hook that returns only once the mount answers, after
   * making the volume's sub-directory in it. Of the ConfigMap's {@code lifecycle}, an exec preStop
   * runs before the driver's stop script; its postStart gives way to that hook, as in the Go
   * driver.
   */
  private static Container sidecar(
      Container c,
      String name,
      Map<String, String> renames,
      Path mountPath,
      String subPath,
      int i,
      KubeRuntimeConfig config) {
    List<VolumeMount> mounts = new ArrayList<>();
    for (VolumeMount m : c.getVolumeMounts()) {
      mounts.add(new VolumeMountBuilder(m).withName(renames.get(m.getName())).build());
    }
    List<VolumeDevice> devices = new ArrayList<>();
    if (c.getVolumeDevices() != null) {
      for (VolumeDevice d : c.getVolumeDevices()) {
        devices.add(new VolumeDeviceBuilder(d).withName(renames.get(d.getName())).build());
      }
    }
    String mp = ClientCommand.shellLine(List.of(mountPath.toString()));
    List<String> command = new ArrayList<>(c.getCommand());
    String script = command.getLast();
    int exec = script.lastIndexOf(SidecarScripts.EXEC);
    if (exec < 0) {
      throw new IllegalStateException("the Mount Pod's command does not end with its client");
    }
    command.set(
        command.size() - 1,
        "mkdir -p "
            + mp
            + " && "
            + script.substring(0, exec)
            + " && "
            + SidecarScripts.supervised(
                script.substring(exec + SidecarScripts.EXEC.length()), mountPath));
    return new ContainerBuilder(c)
        .withName(name)
        .withCommand(command)
        .withVolumeMounts(mounts)
        .withVolumeDevices(devices.isEmpty() ? null : devices)
        .withPorts(
            new ContainerPortBuilder()
                .withName(i == 0 ? "metrics" : "metrics-" + i)
                // The Mount Pod's container declares the port its client's options name.
                .withContainerPort(c.getPorts().getFirst().getContainerPort())
                .withProtocol("TCP")
                .build())
        .withNewLifecycle()
        .withNewPostStart()
        .withNewExec()
        .withCommand(
            "sh",
            "-c",
            SidecarScripts.readyScript(mountPath, subPath, config.podReadyTimeout().toSeconds()))
        .endExec()
        .endPostStart()
        .withNewPreStop()
        .withNewExec()
        .withCommand("sh", "-c", configPreStop(c) + SidecarScripts.stopScript(mountPath))
        .endExec()
        .endPreStop()
        .endLifecycle()
        .build();
  }

  /**
   * The ConfigMap's preStop command (an exec; other handlers do not fit in a shell line) run before
   * the driver's stop script, so that it still sees the mount, as on a Mount Pod; "" without one.
   */
  private static String configPreStop(Container c) {
    if (c.getLifecycle() == null
        || c.getLifecycle().getPreStop() == null
        || c.getLifecycle().getPreStop().getExec() == null
        || c.getLifecycle().getPreStop().getExec().getCommand() == null
        || c.getLifecycle().getPreStop().getExec().getCommand().isEmpty()) {
      return "";
    }
    return ClientCommand.shellLine(c.getLifecycle().getPreStop().getExec().getCommand()) + "; ";
  }

  private static void readOnlyMounts(Pod pod, List<String> volumes) {
    appMounts(pod, volumes).forEach(m -> m.setReadOnly(true));
  }

  /** The mounts of {@code volumes} in the pod's containers and init containers. */
  private static List<VolumeMount> appMounts(Pod pod, List<String> volumes) {
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
    String digest = sha256(claimName).substring(0, 10);
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

  private static String unique(Set<String> taken, String name) {
    return unique(taken, name, "");
  }

  private static String unique(Set<String> taken, String name, String space) {
    String candidate = name;
    for (int n = 2; taken.contains(space + candidate); n++) {
      candidate = name + "-" + n;
    }
    taken.add(space + candidate);
    return candidate;
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
