package io.jfscsi.host;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * What became of one container's stale copy of a target: one per mount namespace and mount point
 * there (a container normally has one).
 *
 * @param volumeId the volume whose client came back
 * @param target the referenced target the copy was recognized as; empty when it belongs to no
 *     referenced target (then it is never touched)
 * @param pid the process through which the namespace was entered
 * @param namespace the inode of that mount namespace (/proc/PID/ns/mnt)
 * @param mountPoint where the copy is mounted, as that namespace sees it
 * @param source the fresh host path that was (or would have been) bound there
 * @param podUid the Kubernetes pod of the container, when its cgroup names one
 * @param recovered whether the fresh mount is now in place
 * @param refused whether it was left alone on purpose (not ours to touch, or gone): a later try
 *     would refuse it again
 * @param reason what was done, or why it could not be done
 * @param took how long the repair took
 */
public record ContainerOutcome(
    String volumeId,
    Optional<Path> target,
    long pid,
    long namespace,
    Path mountPoint,
    Path source,
    Optional<String> podUid,
    boolean recovered,
    boolean refused,
    String reason,
    Duration took) {

  /** Still dead, and worth another try later (a helper that failed, not a refusal). */
  public boolean retriable() {
    return !recovered && !refused;
  }

  /** One line for a log or an Event: which container, and what happened to it. */
  public String describe() {
    String who =
        "container (mount namespace "
            + namespace
            + ", pid "
            + pid
            + podUid.map(u -> ", pod " + u).orElse("")
            + ")";
    String what =
        target.map(t -> "copy of " + t).orElse("dead copy of the volume") + " at " + mountPoint;
    return recovered
        ? who
            + ": "
            + what
            + " recovered, bound again to "
            + source
            + " in "
            + took.toMillis()
            + " ms"
        : who + ": " + what + " NOT recovered: " + reason;
  }
}
