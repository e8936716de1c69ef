package io.jfscsi.mount;

import io.jfscsi.client.ClientKey;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * When the guardian rebuilds a failed mount actor from its record, and when it stops trying: an
 * actor that fails again soon after its rebuild would only fail in a loop, so its client is
 * quarantined (left alone, its publishes refused) until the driver restarts. A plain object owned
 * by the {@link NodeGuardian}.
 */
final class Rebuilds {

  /** An actor that fails again this soon after its rebuild would only fail in a loop. */
  static final Duration REBUILD_GRACE = Duration.ofMinutes(1);

  /** When each client's actor was last rebuilt from its record after a failure. */
  private final Map<ClientKey, Instant> rebuiltAt = new HashMap<>();

  /** Clients whose actor failed again soon after a rebuild, and why they are left alone. */
  private final Map<ClientKey, String> quarantined = new HashMap<>();

  /** Why the client of {@code key} is quarantined, if it is. */
  Optional<String> quarantine(ClientKey key) {
    return Optional.ofNullable(quarantined.get(key));
  }

  /**
   * The actor of {@code key} failed at {@code now}: the time since its last rebuild if that was too
   * recent (the client is quarantined from now on), or empty if it may be rebuilt (and is counted
   * as rebuilt now).
   */
  Optional<Duration> failed(ClientKey key, Instant now) {
    Instant last = rebuiltAt.get(key);
    if (last != null && now.isBefore(last.plus(REBUILD_GRACE))) {
      quarantined.put(
          key,
          "its actor failed again within "
              + REBUILD_GRACE.toSeconds()
              + " s of being rebuilt from its record");
      return Optional.of(Duration.between(last, now));
    }
    rebuiltAt.put(key, now);
    return Optional.empty();
  }
}
