package io.jfscsi.mount;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Node-side settings of the mount actors, from the {@code jfs-csi} HOCON section.
 *
 * @param kubeletRoot         targets must lie under this directory
 * @param restartMinBackoff   first delay before restarting a dead client
 * @param restartMaxBackoff   the delay doubles up to this
 * @param restartResetAfter   a client that served this long before it died is not in a crash
 *                            loop: its restart waits only the shortest delay again
 * @param referenceCheck      how often a client's mount is checked (hung clients are restarted)
 *                            and references no longer published are dropped
 */
public record MountSettings(Path kubeletRoot, Duration restartMinBackoff,
                            Duration restartMaxBackoff, Duration restartResetAfter,
                            Duration referenceCheck) {

  public static MountSettings from(Config c) {
    return new MountSettings(
        Path.of(c.getString("kubelet-root")),
        c.getDuration("client.restart-backoff.min"),
        c.getDuration("client.restart-backoff.max"),
        c.getDuration("client.restart-backoff.reset-after"),
        c.getDuration("reference-check-interval"));
  }
}
