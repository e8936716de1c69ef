package io.jfscsi.mount;

import io.jfscsi.host.MountException;
import io.jfscsi.host.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;

/**
 * An unpublish of a target that no client of this driver holds a reference for. The volume is not
 * published there by us, so the answer is OK (the spec's idempotent unpublish), but what is mounted
 * there is not ours to take: someone else's bind stays. Only what serves nothing is cleared, so
 * that kubelet can remove the pod: a dead (stale) mount, which an earlier driver left when its
 * record was lost, and an empty directory.
 */
final class UnownedTargets {
  private UnownedTargets() {}

  static void release(Mounter mounter, Path target, String volumeId, Logger log)
      throws MountException {
    switch (mounter.probe(target)) {
      case MISSING -> {}
      case MOUNTED ->
          log.warn(
              "unpublish of volume {} at {}: this driver did not publish it "
                  + "there, and the live mount there is left alone",
              volumeId,
              target);
      case STALE -> {
        mounter.unmount(target);
        deleteIfEmpty(target, log);
      }
      case NOT_MOUNTED -> deleteIfEmpty(target, log);
    }
  }

  /** Removes the target directory; one with files in it is not ours to delete, nor an error. */
  private static void deleteIfEmpty(Path target, Logger log) {
    try {
      Files.deleteIfExists(target);
    } catch (IOException e) {
      log.warn("leaving {} in place: {}", target, e.toString());
    }
  }
}
