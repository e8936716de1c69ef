package io.jfscsi.client;

import io.jfscsi.juicefs.VolumeSettings;
import java.time.Duration;
import java.util.Optional;

/**
 * What a client's runtime says about its exit where the volume's settings say nothing: on
 * Kubernetes, the Mount Pod annotations {@code juicefs-delete-delay} and {@code
 * juicefs-clean-cache} that a global ConfigMap patch put on it. Not part of the settings hash, so
 * that a ConfigMap change never splits a volume's clients.
 */
public record ExitOverride(Optional<Duration> deleteDelay, Optional<Boolean> cleanCache) {
  public static final ExitOverride NONE = new ExitOverride(Optional.empty(), Optional.empty());

  /** How long the client stays after its last reference. */
  public Duration deleteDelay(VolumeSettings volume) {
    return deleteDelay.orElse(volume.deleteDelay());
  }

  /** Whether the client's cache is cleaned when it stops. */
  public boolean cleanCache(VolumeSettings volume) {
    return cleanCache.orElse(volume.cleanCache());
  }
}
