package io.jfscsi.runtime.local;

import io.jfscsi.host.MountCheck;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.ProcInfo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** The wait of a started client process for its mount point to answer. */
final class MountWait {
  static final Duration POLL = Duration.ofMillis(20);

  private MountWait() {}

  enum Outcome {
    READY,
    EXITED,
    TIMED_OUT
  }

  /** Polls until the mount answers, the client exits, or {@code timeout} passes. */
  static Outcome awaitReady(Mounter mounter, Path path, BooleanSupplier alive, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      // Alive is checked first: a client that mounted and died at once leaves a stale mount.
      if (!alive.getAsBoolean()) {
        return Outcome.EXITED;
      }
      if (MountCheck.answeringFuse(mounter, path)) {
        return Outcome.READY;
      }
      if (System.nanoTime() - deadline > 0) {
        return Outcome.TIMED_OUT;
      }
      ProcInfo.sleep(POLL);
    }
  }
}
