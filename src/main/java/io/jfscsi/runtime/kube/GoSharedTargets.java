package io.jfscsi.runtime.kube;

import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The volume each target of an adopted Go driver Mount Pod shows. A Go pod records its targets but
 * not their volumes: in a share mode one pod serves the targets of several volumes, each bound to
 * {@code <mount point>/<subPath>}, and the pod names only its unique id (a StorageClass or file
 * system). Read from what the node recorded instead: the volume handle from kubelet's {@code
 * vol_data.json} beside the target, the bound directory from the target's mount ({@code root} in
 * mountinfo). Without them a target would fall back to the pod's unique id: kubelet's unpublish,
 * which names the volume, would be refused, and a recovery would bind the file system's root.
 */
final class GoSharedTargets {
  private static final Logger log = LoggerFactory.getLogger(GoSharedTargets.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private GoSharedTargets() {}

  /**
   * The targets of another volume than {@code podVolume} (the unique id the pod serves), with the
   * volume and sub-directory each shows; a target whose volume cannot be read is left out (and
   * logged). A target not mounted now gets the sub-directory the Go driver gives a dynamic volume,
   * its PV's name.
   */
  static Map<String, TargetVolume> of(
      Set<String> targets, String podVolume, List<MountEntry> mounts) {
    Map<String, TargetVolume> out = new TreeMap<>();
    for (String target : targets) {
      Path t = Path.of(target);
      Optional<JsonNode> volData = volData(t);
      Optional<String> handle =
          volData.map(j -> j.path("volumeHandle").asText("")).filter(h -> !h.isEmpty());
      if (handle.isEmpty()) {
        log.warn(
            "target {} of a Go driver Mount Pod: no volume handle in kubelet's vol_data.json;"
                + " it is taken for volume {}",
            target,
            podVolume);
        continue;
      }
      if (handle.get().equals(podVolume)) {
        continue;
      }
      String subPath =
          MountInfo.topMostAt(mounts, t)
              .map(MountEntry::root)
              .orElseGet(() -> volData.get().path("specVolID").asText(""));
      out.put(target, new TargetVolume(handle.get(), subPath.replaceAll("^/+", "")));
    }
    return out;
  }

  /** kubelet's record of a CSI volume's target, {@code <pod>/volumes/kubernetes.io~csi/<name>/}. */
  private static Optional<JsonNode> volData(Path target) {
    Path file = target.getParent() == null ? null : target.getParent().resolve("vol_data.json");
    if (file == null || !Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(JSON.readTree(Files.readString(file)));
    } catch (IOException | JacksonException e) {
      return Optional.empty();
    }
  }
}
