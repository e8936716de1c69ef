package io.jfscsi.client;

import io.jfscsi.juicefs.VolumeSource;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;

/**
 * What the runtime keeps about a client so that a driver restart loses nothing: how to start it
 * again, which targets reference it, when its delayed exit is due, and the client it last ran.
 */
public record ClientRecord(
    ClientKey key,
    VolumeSource source,
    Set<String> targets,
    Set<String> readOnlyTargets,
    Optional<Instant> deleteAt,
    Optional<RunningClient> running) {
  public ClientRecord {
    targets = Set.copyOf(targets);
    readOnlyTargets = Set.copyOf(readOnlyTargets);
  }

  /** A record whose targets are all read-write. */
  public ClientRecord(
      ClientKey key,
      VolumeSource source,
      Set<String> targets,
      Optional<Instant> deleteAt,
      Optional<RunningClient> running) {
    this(key, source, targets, Set.of(), deleteAt, running);
  }
}
