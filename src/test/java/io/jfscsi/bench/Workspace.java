package io.jfscsi.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The volumes and target directories of one bench run, all named after a run prefix so that runs
 * never collide: volume {@code PREFIX-vI}, its targets at {@code
 * KUBELET/pods/PREFIX-vI-pJ/volumes/kubernetes.io~csi/PREFIX-vI/mount}. The bench plays kubelet: it
 * creates each target's parent (the pod's volume directory) and the driver creates and removes the
 * target itself. For the embedded default each volume is a sub-directory of one local file system
 * ({@code metaurl=local://DATA}, {@code subPath=PREFIX-vI}).
 */
final class Workspace {

  /** One target: the volume it belongs to and the path kubelet would ask for. */
  record Target(NodeCalls.Volume volume, int volumeIndex, Path path) {}

  final String prefix;
  final Path kubeletRoot;
  final Path dataDir;
  final boolean ownData;
  final List<NodeCalls.Volume> volumes = new ArrayList<>();
  private final Set<Path> podDirs = new HashSet<>();

  /**
   * @param secrets node-publish secrets; when they name no metaurl, the embedded default is used
   *     with a data directory of the bench's own ({@code dataDir})
   */
  Workspace(
      String prefix,
      Path kubeletRoot,
      Path dataDir,
      int volumeCount,
      Map<String, String> secrets,
      Map<String, String> context)
      throws IOException {
    this.prefix = prefix;
    this.kubeletRoot = kubeletRoot.toAbsolutePath().normalize();
    this.ownData = !secrets.containsKey("metaurl");
    this.dataDir = dataDir.toAbsolutePath().normalize();
    Map<String, String> s = new LinkedHashMap<>(secrets);
    if (ownData) {
      Files.createDirectories(this.dataDir);
      s.putIfAbsent("name", prefix);
      s.put("metaurl", "local://" + this.dataDir);
    }
    for (int i = 0; i < volumeCount; i++) {
      String id = prefix + "-v" + i;
      Map<String, String> c = new LinkedHashMap<>(context);
      c.putIfAbsent("subPath", id);
      if (ownData) {
        Files.createDirectories(this.dataDir.resolve(c.get("subPath")));
      }
      volumes.add(new NodeCalls.Volume(id, Map.copyOf(s), Map.copyOf(c)));
    }
  }

  /** Target {@code slot} of volume {@code v}; its pod directory is created now. */
  Target target(int v, int slot) throws IOException {
    NodeCalls.Volume volume = volumes.get(v);
    Path pod = kubeletRoot.resolve("pods").resolve(volume.id() + "-p" + slot);
    Path parent = pod.resolve("volumes").resolve("kubernetes.io~csi").resolve(volume.id());
    Files.createDirectories(parent);
    podDirs.add(pod);
    return new Target(volume, v, parent.resolve("mount"));
  }

  /**
   * {@code perVolume} targets for every volume, ordered so that consecutive targets belong to
   * different volumes (callers working through the list in order hit different clients).
   */
  List<Target> targets(int firstSlot, int perVolume) throws IOException {
    List<Target> out = new ArrayList<>();
    for (int slot = firstSlot; slot < firstSlot + perVolume; slot++) {
      for (int v = 0; v < volumes.size(); v++) {
        out.add(target(v, slot));
      }
    }
    return out;
  }

  /**
   * Removes the pod directories (never recursively into a mount: each level is removed only if
   * empty) and the data directories the bench created. Returns what was left in place.
   */
  List<Path> cleanUp() {
    List<Path> left = new ArrayList<>();
    for (Path pod : podDirs) {
      Path csi = pod.resolve("volumes").resolve("kubernetes.io~csi");
      try (var names = Files.list(csi)) {
        for (Path volumeDir : names.toList()) {
          removeEmpty(volumeDir.resolve("mount"), left);
          removeEmpty(volumeDir, left);
        }
      } catch (IOException e) {
        // nothing there
      }
      removeEmpty(csi, left);
      removeEmpty(csi.getParent(), left);
      removeEmpty(pod, left);
    }
    if (ownData) {
      for (NodeCalls.Volume v : volumes) {
        removeEmpty(dataDir.resolve(v.context().get("subPath")), left);
      }
      removeEmpty(dataDir, left);
    }
    return left;
  }

  /**
   * {@link #cleanUp}, with what is left reported; true when any of it is under the kubelet root: a
   * target the bench published or bound is still mounted, or a pod directory is not empty. That is
   * the bench's own mess, so the run must fail; a data directory the user gave may rightly keep its
   * files.
   */
  boolean cleanUpAndReport(Report r) {
    List<Path> left = cleanUp();
    if (!left.isEmpty()) {
      r.line(
          "left in place (not empty or still mounted): %d paths, e.g. %s",
          left.size(), left.getFirst());
    }
    return left.stream().anyMatch(p -> p.startsWith(kubeletRoot));
  }

  private static void removeEmpty(Path dir, List<Path> left) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      left.add(dir);
    }
  }
}
