package io.jfscsi.host;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Whether a client's mount point is served by a live FUSE file system. */
public final class MountCheck {
  private static final Logger log = LoggerFactory.getLogger(MountCheck.class);

  private MountCheck() {}

  /** The top-most mount at {@code path}, by the mount table (never by a stat that could hang). */
  static Optional<MountEntry> top(Mounter mounter, Path path) {
    return mounter.entryAt(path);
  }

  public static boolean hasMount(Mounter mounter, Path path) {
    return top(mounter, path).isPresent();
  }

  /**
   * A FUSE file system (bindfs: "fuse", juicefs: "fuse.juicefs") on top at {@code path} whose
   * server answers. The type check matters: before the client mounts, the path is a plain directory
   * of the file system below, which would "answer" too. probe alone is not enough: the kernel
   * answers a stat of a FUSE root from its attribute cache (about 1s) even when the server is dead
   * or hung; statfs always reaches the server (and the Mounter bounds it with a deadline).
   */
  public static boolean answeringFuse(Mounter mounter, Path path) {
    boolean fuse = top(mounter, path).map(e -> e.fsType().startsWith("fuse")).orElse(false);
    if (!fuse || mounter.probe(path) != MountState.MOUNTED) {
      return false;
    }
    try {
      mounter.stats(path);
      return true;
    } catch (MountException e) {
      return false;
    }
  }

  /** Unmounts a client's mount point if something is mounted there; a failure is only logged. */
  public static void unmountQuietly(Mounter mounter, Path mountPath) {
    try {
      if (hasMount(mounter, mountPath)) {
        mounter.unmount(mountPath);
      }
    } catch (MountException e) {
      log.warn("cannot unmount {}: {}", mountPath, e.getMessage());
    }
  }

  /** Removes a mount directory if it is empty; never what a client may have left in it. */
  public static boolean removeEmptyDir(Path dir) {
    try {
      return Files.deleteIfExists(dir);
    } catch (DirectoryNotEmptyException e) {
      log.warn("left mount directory {} in place: it is not empty", dir);
    } catch (IOException e) {
      log.warn("cannot remove mount directory {}: {}", dir, e.toString());
    }
    return false;
  }
}
