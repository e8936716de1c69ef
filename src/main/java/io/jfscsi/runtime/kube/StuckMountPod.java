package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.LongSupplier;

/**
 * A Mount Pod being deleted, and when it counts as stuck: as the Go driver's checkMountPodStuck, a
 * pod still Terminating max(2 × its grace period, 1 minute) after its deletion. Its FUSE connection
 * is then aborted if {@code enableAutoAbortStuckMountPod} says so and requests wait on it (a client
 * that answers is not what holds the pod).
 *
 * @param name the pod's name
 * @param deletedAt when it was deleted: its deletionTimestamp less the grace period it was given,
 *     so that a restarted driver counts from the same moment
 * @param grace the grace period of its deletion
 */
record StuckMountPod(String name, Instant deletedAt, Duration grace) {
  static final Duration MIN_PATIENCE = Duration.ofMinutes(1);
  static final Duration DEFAULT_GRACE = Duration.ofSeconds(30);

  /** What to do about the pod now. */
  sealed interface Verdict {
    /** Not stuck yet: look again at {@code at}. */
    record NotYet(Instant at) implements Verdict {}

    /** Stuck, but the switch is off: nothing is aborted. */
    record SwitchOff() implements Verdict {}

    /** Stuck, and its FUSE connection is not known (or is now another mount's). */
    record NoConnection() implements Verdict {}

    /** Stuck, but no request waits on its connection (or the connection is gone already). */
    record NothingWaiting(long waiting) implements Verdict {}

    /** Stuck on its connection {@code minor}, on which {@code waiting} requests wait. */
    record Abort(int minor, long waiting) implements Verdict {}
  }

  /** The pod's deletion, if it is being deleted. */
  static Optional<StuckMountPod> of(Pod pod) {
    String stamp = pod.getMetadata().getDeletionTimestamp();
    if (stamp == null) {
      return Optional.empty();
    }
    Long seconds = pod.getMetadata().getDeletionGracePeriodSeconds();
    if (seconds == null && pod.getSpec() != null) {
      seconds = pod.getSpec().getTerminationGracePeriodSeconds();
    }
    Duration grace = seconds == null ? DEFAULT_GRACE : Duration.ofSeconds(seconds);
    return Optional.of(
        new StuckMountPod(pod.getMetadata().getName(), Instant.parse(stamp).minus(grace), grace));
  }

  /** From when on the pod counts as stuck. */
  Instant stuckAt() {
    Duration twice = grace.multipliedBy(2);
    return deletedAt.plus(twice.compareTo(MIN_PATIENCE) > 0 ? twice : MIN_PATIENCE);
  }

  /**
   * The verdict at {@code now}, for a pod still there.
   *
   * @param enabled the switch {@code enableAutoAbortStuckMountPod}
   * @param connection the minor of the pod's FUSE connection, if known
   * @param waiting the requests waiting on it, -1 if the connection is gone (read only if needed)
   */
  Verdict decide(Instant now, boolean enabled, OptionalInt connection, LongSupplier waiting) {
    if (now.isBefore(stuckAt())) {
      return new Verdict.NotYet(stuckAt());
    }
    if (!enabled) {
      return new Verdict.SwitchOff();
    }
    if (connection.isEmpty()) {
      return new Verdict.NoConnection();
    }
    long w = waiting.getAsLong();
    return w > 0
        ? new Verdict.Abort(connection.getAsInt(), w)
        : new Verdict.NothingWaiting(Math.max(w, 0));
  }
}
