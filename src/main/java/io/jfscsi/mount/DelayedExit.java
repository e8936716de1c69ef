package io.jfscsi.mount;

import io.jfscsi.juicefs.VolumeSettings;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * When a client that no target references any more exits: at once, or after the volume's delete
 * delay (JuiceFS CSI's {@code juicefs/mount-delete-delay}), kept in the client's record so that a
 * driver restart does not reset it.
 */
final class DelayedExit {

  /**
   * Pekko's scheduler refuses a delay beyond about 248 days: a longer wait is taken in steps, each
   * ending in a timer that starts the next one until the exit time is reached.
   */
  static final Duration LONGEST_TIMER = Duration.ofDays(100);

  private DelayedExit() {}

  /**
   * The exit time of a client that became unreferenced at {@code now}, or empty when it exits at
   * once. It waits the delete delay, and at least {@code atLeast}. An exit time recorded by an
   * earlier driver stands even if the delay parsed now differs, but never beyond the longest delete
   * delay from now (a record written by another version or by hand is honoured as far as it can
   * be).
   */
  static Optional<Instant> exitTime(
      Duration deleteDelay, Duration atLeast, Optional<Instant> recorded, Instant now) {
    Duration delay = deleteDelay.compareTo(atLeast) >= 0 ? deleteDelay : atLeast;
    if (recorded.isEmpty() && (delay.isZero() || delay.isNegative())) {
      return Optional.empty();
    }
    Instant latest = now.plus(VolumeSettings.MAX_DELETE_DELAY);
    Instant at = recorded.orElse(now.plus(delay));
    return Optional.of(at.isAfter(latest) ? latest : at);
  }

  /** How long the next timer toward {@code at} waits: all of it, up to {@link #LONGEST_TIMER}. */
  static Duration nextStep(Instant now, Instant at) {
    Duration remaining = Duration.between(now, at);
    if (remaining.isNegative()) {
      return Duration.ZERO;
    }
    return remaining.compareTo(LONGEST_TIMER) > 0 ? LONGEST_TIMER : remaining;
  }
}
