package io.jfscsi.mount;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Node-side settings of the mount actors, from the {@code jfs-csi} HOCON section.
 *
 * @param kubeletRoot targets must lie under this directory
 * @param restartMinBackoff first delay before restarting a dead client
 * @param restartMaxBackoff the delay doubles up to this
 * @param restartResetAfter a client that served this long before it died is not in a crash loop:
 *     its restart waits only the shortest delay again
 * @param referenceCheck how often a client's mount is checked (hung clients are restarted) and
 *     references no longer published are dropped
 * @param answerDeadline how long a publish waits for a client that is not ready before it answers
 *     with what the client waits on (the start goes on)
 * @param retryGrace how long a client that became ready after such an answer waits, unreferenced,
 *     for the caller's retry before its exit begins
 */
public record MountSettings(
    Path kubeletRoot,
    Duration restartMinBackoff,
    Duration restartMaxBackoff,
    Duration restartResetAfter,
    Duration referenceCheck,
    Duration answerDeadline,
    Duration retryGrace) {

  /** The longest of these durations: each is a timer of every mount actor. */
  static final Duration LONGEST = Duration.ofDays(1);

  /**
   * Kubelet cancels NodePublishVolume after this (csiTimeout, the same from 1.20 to today); an
   * answer after it reaches nobody, and the user sees only "context deadline exceeded".
   */
  public static final Duration KUBELET_PUBLISH_DEADLINE = Duration.ofMinutes(2);

  public static MountSettings from(Config c) {
    return new MountSettings(
        Path.of(c.getString("kubelet-root")),
        bounded(c, "client.restart-backoff.min"),
        bounded(c, "client.restart-backoff.max"),
        c.getDuration("client.restart-backoff.reset-after"),
        bounded(c, "reference-check-interval"),
        answerDeadline(c),
        bounded(c, "publish-retry-grace"));
  }

  /** A timer's duration, refused at start when the scheduler could not run it as meant. */
  private static Duration bounded(Config c, String key) {
    Duration d = c.getDuration(key);
    if (d.isNegative() || d.isZero() || d.compareTo(LONGEST) > 0) {
      throw new IllegalArgumentException(
          "jfs-csi."
              + key
              + " = "
              + d
              + " is out of range: it "
              + "must be above 0 and at most "
              + LONGEST.toHours()
              + "h");
    }
    return d;
  }

  /** The answer must come before the call's own timeout and before kubelet's. */
  private static Duration answerDeadline(Config c) {
    Duration d = bounded(c, "publish-answer-deadline");
    Duration call = c.getDuration("call-timeout");
    if (d.compareTo(call) >= 0 || d.compareTo(KUBELET_PUBLISH_DEADLINE) >= 0) {
      throw new IllegalArgumentException(
          "jfs-csi.publish-answer-deadline = "
              + d
              + " is out of "
              + "range: it must be below jfs-csi.call-timeout ("
              + call
              + ") and below kubelet's "
              + KUBELET_PUBLISH_DEADLINE.toSeconds()
              + " s deadline of NodePublishVolume, so that "
              + "the answer reaches kubelet");
    }
    return d;
  }
}
