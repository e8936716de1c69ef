package io.jfscsi.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Mount Pods' mount root must be a shared mount: each Mount Pod mounts its client there with
 * Bidirectional propagation, which the container runtime refuses on a private mount (the pod fails
 * with CreateContainerError), and without which the client's mount would never reach the host.
 * Hosts whose {@code /} is private (no systemd) have it private; kubelet meets the same need for
 * its own root by binding it onto itself and making it shared, and so does this.
 */
public final class SharedMountRoot {
  private static final Logger log = LoggerFactory.getLogger(SharedMountRoot.class);

  private SharedMountRoot() {}

  /**
   * Makes {@code dir} a shared mount unless the mount that holds it is one already.
   *
   * @return empty when it is shared; else why it is not and cannot be made so
   */
  public static Optional<String> ensure(Path dir) {
    Path root = dir.toAbsolutePath().normalize();
    try {
      Files.createDirectories(root);
      root = root.toRealPath();
    } catch (IOException e) {
      return Optional.of("the mount root " + root + " cannot be created: " + e.getMessage());
    }
    Optional<MountEntry> holder = holder(root);
    if (holder.isPresent() && holder.get().shared()) {
      return Optional.empty();
    }
    boolean own = holder.isPresent() && holder.get().mountPoint().equals(root);
    if (!own) {
      // A bind onto itself would cover the clients mounted beneath it (or, recursive, copy
      // them and leave the originals hidden): only an empty root is bound.
      Path r = root;
      long beneath =
          MountInfo.self().stream()
              .filter(e -> e.mountPoint().startsWith(r) && !e.mountPoint().equals(r))
              .count();
      if (beneath > 0) {
        return Optional.of(
            why(root, "bind it onto itself while " + beneath + " mounts are" + " beneath it", 0));
      }
      int err = Libc.mount(root, root, Libc.MS_BIND);
      if (err != 0) {
        return Optional.of(why(root, "bind it onto itself", err));
      }
    }
    int err = Libc.mount(null, root, Libc.MS_SHARED | Libc.MS_REC);
    if (err != 0) {
      return Optional.of(why(root, "make it shared", err));
    }
    log.info(
        "made the mount root {} a shared mount{} (as kubelet does for its root): Mount Pods"
            + " mount their clients there with Bidirectional propagation",
        root,
        own ? "" : " (bound onto itself)");
    return Optional.empty();
  }

  /** Whether the mount holding {@code dir} is shared now (false when there is no such dir). */
  public static boolean isShared(Path dir) {
    try {
      return holder(dir.toAbsolutePath().normalize().toRealPath())
          .map(MountEntry::shared)
          .orElse(false);
    } catch (IOException e) {
      return false;
    }
  }

  private static Optional<MountEntry> holder(Path root) {
    return MountInfo.holding(MountInfo.self(), root);
  }

  private static String why(Path root, String step, int errno) {
    return "the mount root "
        + root
        + " is not a shared mount and this driver cannot "
        + step
        + (errno == 0 ? "" : " (" + Libc.strerror(errno) + ")")
        + "; Mount Pods need it shared for their Bidirectional"
        + " mount: run `mount --bind "
        + root
        + " "
        + root
        + " && mount --make-rshared "
        + root
        + "` on the node, or give the driver CAP_SYS_ADMIN in the host's mount namespace";
  }
}
