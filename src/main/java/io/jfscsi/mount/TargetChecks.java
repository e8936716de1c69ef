package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.host.EntryType;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * What the disk says about a target before a publish or an unpublish acts on it: its parent exists
 * and does not escape the kubelet root through a symbolic link, and the target is not a symbolic
 * link or a file. The gRPC edge checked the request's shape (absolute, normalized, under the root);
 * this looks at the host, from the guardian, before any client is started for it. Owned by the
 * guardian, so the kubelet root's real path is kept in a plain field.
 *
 * <p>Nothing here may wait on a FUSE client: the parent is a directory kubelet made on the host,
 * and the target (which may be a mount of a hung client) is looked at only through {@link
 * EntryType}, which never asks the file system.
 */
final class TargetChecks {
  private static final String FIELD = "target_path";

  private final Path root;
  private Path realRoot;

  TargetChecks(Path kubeletRoot) {
    this.root = kubeletRoot.toAbsolutePath().normalize();
  }

  /**
   * Refuses a target to publish at.
   *
   * @throws Failure INVALID_ARGUMENT saying what is wrong
   */
  void publishable(Path target) {
    check(target, false);
  }

  /**
   * As {@link #publishable}, for an unpublish: a target whose parent is gone cannot hold a mount,
   * so it is accepted (the unpublish then finds nothing to do, as the specification's idempotency
   * asks) instead of refused.
   */
  void unpublishable(Path target) {
    check(target, true);
  }

  private void check(Path target, boolean parentMayBeGone) {
    String quoted = Quoted.path(target);
    Path real;
    try {
      real = target.getParent().toRealPath();
    } catch (NoSuchFileException e) {
      if (parentMayBeGone) {
        return;
      }
      throw Failure.invalid(
          "the parent directory of "
              + FIELD
              + " "
              + quoted
              + " does not exist; the CO creates it before publishing");
    } catch (IOException e) {
      throw Failure.invalid(
          FIELD
              + " "
              + quoted
              + ": cannot resolve its parent: "
              + Quoted.of(String.valueOf(e.getMessage())));
    }
    if (!real.startsWith(realRoot())) {
      throw Failure.invalid(
          FIELD
              + " "
              + quoted
              + " escapes the kubelet root "
              + root
              + " through a symbolic link (its parent resolves to "
              + Quoted.of(real.toString())
              + ")");
    }
    switch (EntryType.of(target)) {
      case SYMLINK -> throw Failure.invalid(FIELD + " " + quoted + " is a symbolic link");
      case OTHER -> throw Failure.invalid(FIELD + " " + quoted + " exists and is not a directory");
      case MISSING, DIRECTORY, UNKNOWN -> {}
    }
  }

  /** The kubelet root's real path, resolved once it exists, and then kept. */
  private Path realRoot() {
    if (realRoot != null) {
      return realRoot;
    }
    try {
      realRoot = root.toRealPath();
      return realRoot;
    } catch (IOException e) {
      return root; // not there yet: nothing under it exists either
    }
  }
}
