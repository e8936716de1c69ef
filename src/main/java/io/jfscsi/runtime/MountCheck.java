package io.jfscsi.runtime;

import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/** Whether a client's mount point is served by a live FUSE file system. */
final class MountCheck {
  static final Duration POLL = Duration.ofMillis(20);

  private MountCheck() {}

  /** The top-most mount at {@code path}: mountinfo lists mounts in the order they were made. */
  static Optional<MountEntry> top(Mounter mounter, Path path) {
    List<MountEntry> mounts = mounter.mounts();
    for (int i = mounts.size() - 1; i >= 0; i--) {
      if (mounts.get(i).mountPoint().equals(path)) {
        return Optional.of(mounts.get(i));
      }
    }
    return Optional.empty();
  }

  static boolean hasMount(Mounter mounter, Path path) {
    return top(mounter, path).isPresent();
  }

  /**
   * A FUSE file system (bindfs: "fuse", juicefs: "fuse.juicefs") on top at {@code path} that
   * answers a stat. The type check matters: before the client mounts, the path is a plain
   * directory of the file system below, which would "answer" too.
   */
  static boolean answeringFuse(Mounter mounter, Path path) {
    boolean fuse = top(mounter, path).map(e -> e.fsType().startsWith("fuse")).orElse(false);
    return fuse && mounter.probe(path) == MountState.MOUNTED;
  }

  enum Outcome { READY, EXITED, TIMED_OUT }

  /** Polls until the mount answers, the client exits, or {@code timeout} passes. */
  static Outcome awaitReady(Mounter mounter, Path path, BooleanSupplier alive, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      // Alive is checked first: a client that mounted and died at once leaves a stale mount.
      if (!alive.getAsBoolean()) {
        return Outcome.EXITED;
      }
      if (answeringFuse(mounter, path)) {
        return Outcome.READY;
      }
      if (System.nanoTime() - deadline > 0) {
        return Outcome.TIMED_OUT;
      }
      ProcInfo.sleep(POLL);
    }
  }
}
