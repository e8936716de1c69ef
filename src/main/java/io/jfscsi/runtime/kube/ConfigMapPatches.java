package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.Failure;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.kube.configmap.ClaimLookup;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import io.jfscsi.runtime.kube.configmap.MountPodPatch;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What the global ConfigMap makes of one new Mount Pod: the entries that select its claim and this
 * node merged in order, with {@code ${MOUNT_POINT}}, {@code ${VOLUME_ID}}, {@code ${VOLUME_NAME}}
 * and {@code ${SUB_PATH}} filled in, its {@code mountOptions} over the volume's, and where to place
 * it. Asked once per pod built, never for a running pod: a ConfigMap change reaches new Mount Pods
 * only, and never changes the settings hash that decides which client a publish shares. The sidecar
 * webhook asks {@link #patched} the same for each client container it injects.
 */
public final class ConfigMapPatches {

  /** A new Mount Pod's share of the ConfigMap. */
  record Plan(VolumeSettings settings, MountPodPatch patch, Optional<String> nodeSelectorHost) {}

  /**
   * A client's settings with the patch's {@code mountOptions} over the volume's, and the merged
   * patch with its templates filled in.
   */
  public record Patched(VolumeSettings settings, MountPodPatch patch) {}

  private final Supplier<GlobalConfig> config;
  private final ClaimLookup lookup;
  private final String node;

  ConfigMapPatches(Supplier<GlobalConfig> config, ClaimLookup lookup, String node) {
    this.config = config;
    this.lookup = lookup;
    this.node = node;
  }

  /** Without a ConfigMap (tests of the pod alone). */
  static ConfigMapPatches none() {
    return new ConfigMapPatches(() -> GlobalConfig.DEFAULTS, null, "");
  }

  Plan plan(VolumeSettings settings, Path mountPath) {
    GlobalConfig c = config.get();
    if (c.mountPodPatch().isEmpty() && !c.switches().enableNodeSelector()) {
      return new Plan(settings, MountPodPatch.NONE, Optional.empty());
    }
    Optional<PersistentVolumeClaim> claim = Optional.empty();
    Optional<Map<String, String>> nodeLabels = Optional.empty();
    try {
      if (c.selectsClaims()) {
        claim = lookup.claimOf(settings.volumeId());
      }
      if (c.needsNodeLabels()) {
        nodeLabels = lookup.nodeLabels(node);
      }
    } catch (KubernetesClientException e) {
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "cannot read what the ConfigMap's mountPodPatch selectors need for volume "
              + settings.volumeId()
              + " (its PV and claim, node "
              + node
              + "): "
              + e.getMessage(),
          e);
    }
    Patched patched = patched(c, claim, nodeLabels, settings, mountPath);
    Optional<String> host =
        c.switches().enableNodeSelector()
            ? Optional.of(nodeLabels.map(l -> l.get(ConfigMapPatch.HOSTNAME_LABEL)).orElse(node))
            : Optional.empty();
    return new Plan(patched.settings(), patched.patch(), host);
  }

  /**
   * What {@code c} makes of a client of {@code settings} mounted at {@code mountPath}, for this
   * claim and node (empty when there is none, or it is not known: an entry that selects by it then
   * does not apply). A refused mount option is a {@link Failure}.
   */
  public static Patched patched(
      GlobalConfig c,
      Optional<PersistentVolumeClaim> claim,
      Optional<Map<String, String>> nodeLabels,
      VolumeSettings settings,
      Path mountPath) {
    MountPodPatch patch = filled(c.patchFor(claim, nodeLabels), settings, mountPath);
    VolumeSettings patched =
        patch.mountOptions() == null
            ? settings
            : SettingsParser.withMountOptions(
                settings, patch.mountOptions(), "in the ConfigMap's mountPodPatch mountOptions");
    return new Patched(patched, patch);
  }

  /** The Go driver's templates, filled in every text value of the patch. */
  static MountPodPatch filled(MountPodPatch patch, VolumeSettings settings, Path mountPath) {
    if (patch.equals(MountPodPatch.NONE)) {
      return patch;
    }
    return patch.mapText(
        text ->
            text.replace("${MOUNT_POINT}", mountPath.toString())
                .replace("${VOLUME_ID}", settings.volumeId())
                .replace("${VOLUME_NAME}", settings.fsName())
                .replace("${SUB_PATH}", settings.subPath()));
  }

  /**
   * The command of {@code c}'s exec preStop hook (a ConfigMap patch's lifecycle), which the driver
   * chains before its own; empty when it has none, or one that is not a command.
   */
  public static Optional<List<String>> preStopCommand(Container c) {
    return Optional.ofNullable(c.getLifecycle())
        .map(l -> l.getPreStop())
        .map(h -> h.getExec())
        .map(e -> e.getCommand())
        .filter(cmd -> !cmd.isEmpty());
  }
}
