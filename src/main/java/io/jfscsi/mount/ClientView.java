package io.jfscsi.mount;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A read-only picture of one client for management and tests. {@code subPath} is the directory
 * under {@code mountPath} that its targets see ("" for the file system's root).
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
    Optional<String> lastError) {}
