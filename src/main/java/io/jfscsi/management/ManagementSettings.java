package io.jfscsi.management;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code jfs-csi.management} section: whether the management HTTP server runs, where it
 * listens, and the token that write routes demand.
 *
 * @param token empty when none is configured: every write route then answers 403
 */
public record ManagementSettings(boolean enabled, String host, int port, Optional<String> token) {

  /** How long /ready waits for its checks (the Probe's question to the guardian takes 5 s). */
  public static final Duration CHECK_TIMEOUT = Duration.ofSeconds(6);

  /** The HTTP server's idle timeout at least: longer than a single upgrade's answer takes. */
  static final Duration UPGRADE_IDLE_TIMEOUT = ClientUpgrades.UPGRADE_TIMEOUT.plusMinutes(2);

  public ManagementSettings {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(
          "jfs-csi.management.port must be 0 through 65535 (was " + port + ")");
    }
    token = token.filter(t -> !t.isBlank());
  }

  /** Reads the section from the {@code jfs-csi} config. */
  public static ManagementSettings from(Config jfsCsi) {
    Config m = jfsCsi.getConfig("management");
    return new ManagementSettings(
        m.getBoolean("enabled"),
        m.getString("host"),
        m.getInt("port"),
        Optional.of(m.getString("token")));
  }

  /**
   * The config the actor system runs with: pekko-management's HTTP settings follow {@code
   * jfs-csi.management}, its own health-check route is replaced by ours (which answers 503 with the
   * reason instead of 500), and our checks and routes are registered. Set here, not in
   * reference.conf, so that the order in which reference.conf files merge cannot undo it.
   */
  public Config applyTo(Config config) {
    Map<String, Object> m = new HashMap<>();
    m.put("pekko.management.http.hostname", host);
    m.put("pekko.management.http.port", port);
    m.put("pekko.management.http.bind-hostname", "");
    m.put("pekko.management.http.bind-port", "");
    m.put("pekko.management.http.base-path", "");
    m.put("pekko.management.http.routes.health-checks", "");
    m.put("pekko.management.http.routes.jfs-csi", ManagementRoutes.class.getName());
    m.put(
        "pekko.management.health-checks.readiness-checks.jfs-csi", ReadinessCheck.class.getName());
    m.put("pekko.management.health-checks.liveness-checks.jfs-csi", LivenessCheck.class.getName());
    m.put("pekko.management.health-checks.check-timeout", CHECK_TIMEOUT.toMillis() + "ms");
    // A single upgrade answers when its client has been replaced, minutes later: the connection
    // must not be closed as idle meanwhile (pekko-http's 60 s by default).
    String idle = "pekko.http.server.idle-timeout";
    if (config.hasPath(idle)
        && !config.getString(idle).equals("infinite")
        && config.getDuration(idle).compareTo(UPGRADE_IDLE_TIMEOUT) < 0) {
      m.put(idle, UPGRADE_IDLE_TIMEOUT.toSeconds() + "s");
    }
    return ConfigFactory.parseMap(m).withFallback(config);
  }
}
