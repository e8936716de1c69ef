package io.jfscsi.mount;

import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.PathBeneath;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;

/**
 * kubelet's own binds for {@code volumeMounts[].subPath}: for a target {@code
 * <kubelet>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount} they live under {@code
 * <kubelet>/pods/<uid>/volume-subpaths/<pv>/<container>/<index>} and bind a directory inside the
 * target. When the client dies they go stale with it; the fresh client's directory of the same path
 * (the mount table's root field) is bound there again, in place of the dead bind: kubelet unmounts
 * these once when it cleans up, so a dead layer left beneath would keep its cleanup failing.
 * Containers whose copy stays dead are repaired in their own namespaces ({@link
 * Targets#recoverContainers}), whatever their propagation.
 */
final class SubPathBinds {
  private SubPathBinds() {}

  /** Binds again every stale subPath bind of {@code target}'s pod and volume; returns how many. */
  static int rebind(
      Mounter mounter, List<MountEntry> table, Path target, Path clientMount, Logger log) {
    Path volumeDir = target.getParent();
    if (volumeDir == null
        || volumeDir.getParent() == null
        || volumeDir.getParent().getParent() == null
        || volumeDir.getParent().getParent().getParent() == null) {
      return 0;
    }
    Path pod = volumeDir.getParent().getParent().getParent();
    Path subPaths = pod.resolve("volume-subpaths").resolve(volumeDir.getFileName());
    if (!Files.isDirectory(subPaths)) {
      return 0;
    }
    int rebound = 0;
    for (MountEntry entry : table) {
      Path at = entry.mountPoint();
      if (!at.startsWith(subPaths)
          || at.equals(subPaths)
          || mounter.probe(at) != MountState.STALE) {
        continue;
      }
      Path source = clientMount.resolve(entry.root().replaceFirst("^/+", "")).normalize();
      if (!source.startsWith(clientMount)) {
        continue; // a root outside the client's file system is not ours to follow
      }
      try {
        mounter.unmount(at);
        // Resolved beneath the client's mount with no symlink: the volume's writers may have
        // planted one where the directory was.
        mounter.bind(
            PathBeneath.of(clientMount, source),
            PathBeneath.of(subPaths, at),
            entry.readOnly(),
            false);
        rebound++;
        log.info("subPath bind {} bound again to {}", at, source);
      } catch (MountException e) {
        if (e.notFound()) {
          log.warn("subPath bind {}: its directory {} is gone from the file system", at, source);
          continue;
        }
        log.error("subPath bind {} could not be bound again: {}", at, e.getMessage());
      }
    }
    return rebound;
  }
}
