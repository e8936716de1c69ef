package io.jfscsi.client;

import io.jfscsi.juicefs.VolumeSource;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What the runtime keeps about a client so that a driver restart loses nothing: how to start it
 * again, which targets reference it, when its delayed exit is due, and the client it last ran.
 *
 * @param sharedTargets the targets of other volumes than {@code source}'s (a share mode: one client
 *     for every volume of a StorageClass or file system), with the volume each shows; a target not
 *     in it shows {@code source}'s volume
 */
public record ClientRecord(
    ClientKey key,
    VolumeSource source,
    Set<String> targets,
    Set<String> readOnlyTargets,
    Map<String, TargetVolume> sharedTargets,
    Optional<Instant> deleteAt,
    Optional<RunningClient> running) {
  public ClientRecord {
    targets = Set.copyOf(targets);
    readOnlyTargets = Set.copyOf(readOnlyTargets);
    sharedTargets = Map.copyOf(sharedTargets);
  }

  /** A record whose targets all show {@code source}'s volume. */
  public ClientRecord(
      ClientKey key,
      VolumeSource source,
      Set<String> targets,
      Set<String> readOnlyTargets,
      Optional<Instant> deleteAt,
      Optional<RunningClient> running) {
    this(key, source, targets, readOnlyTargets, Map.of(), deleteAt, running);
  }

  /** A record whose targets are all read-write. */
  public ClientRecord(
      ClientKey key,
      VolumeSource source,
      Set<String> targets,
      Optional<Instant> deleteAt,
      Optional<RunningClient> running) {
    this(key, source, targets, Set.of(), Map.of(), deleteAt, running);
  }
}
