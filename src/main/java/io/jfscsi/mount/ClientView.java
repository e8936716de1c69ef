package io.jfscsi.mount;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A read-only picture of one client for management and tests. {@code volumeId} is the client's
 * unique id (in a share mode a StorageClass or file system name); {@code subPath} is the directory
 * under {@code mountPath} that the targets of its own volume see ("" for the file system's root);
 * {@code targetVolumes} is the volume each target shows (in a share mode, several volumes).
 */
public record ClientView(
    String key,
    String volumeId,
    ClientState state,
    String mountPath,
    String subPath,
    Optional<String> handle,
    List<String> targets,
    Optional<Instant> deleteAt,
    int restarts,
    Optional<String> lastError,
    Map<String, String> targetVolumes) {

  public ClientView {
    targetVolumes = Collections.unmodifiableMap(new LinkedHashMap<>(targetVolumes));
  }

  /** A client whose targets show its own volume only. */
  public ClientView(
      String key,
      String volumeId,
      ClientState state,
      String mountPath,
      String subPath,
      Optional<String> handle,
      List<String> targets,
      Optional<Instant> deleteAt,
      int restarts,
      Optional<String> lastError) {
    this(
        key,
        volumeId,
        state,
        mountPath,
        subPath,
        handle,
        targets,
        deleteAt,
        restarts,
        lastError,
        targets.stream()
            .collect(Collectors.toMap(t -> t, t -> volumeId, (a, b) -> a, LinkedHashMap::new)));
  }

  /** Whether a target of this client shows {@code volumeId}, or the client is named after it. */
  public boolean serves(String volumeId) {
    return this.volumeId.equals(volumeId) || targetVolumes.containsValue(volumeId);
  }

  /** The targets that show {@code volumeId}. */
  public List<String> targetsOf(String volumeId) {
    return targets.stream()
        .filter(t -> volumeId.equals(targetVolumes.getOrDefault(t, this.volumeId)))
        .toList();
  }
}
