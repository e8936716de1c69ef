package io.jfscsi.management;

import io.jfscsi.mount.NodeGuardian;
import java.io.IOException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The management HTTP server of one driver, run by pekko-management on the driver's actor system
 * (which must run with {@link ManagementSettings#applyTo}'s config). It stops with the actor
 * system, when its service-unbind phase begins.
 */
public final class ManagementServer {
  private static final Logger log = LoggerFactory.getLogger(ManagementServer.class);

  private final ManagementContext context;
  private final Uri uri;

  private ManagementServer(ManagementContext context, Uri uri) {
    this.context = context;
    this.uri = uri;
  }

  /**
   * Binds the server and waits until it listens. Until {@link #csiServing} says so, /ready answers
   * 503.
   *
   * @param guardian the node guardian, or null without the node role
   * @param probe the CSI Probe's readiness
   * @param nodeId this node's name, as the batch upgrade's answer names it
   */
  public static ManagementServer start(
      ActorSystem<?> system,
      ManagementSettings settings,
      ActorRef<NodeGuardian.Command> guardian,
      DriverMetrics metrics,
      Supplier<CompletionStage<Boolean>> probe,
      String nodeId)
      throws IOException {
    ManagementContext context = ManagementContext.get(system);
    ActorRef<NodeUpgrades.Command> upgrades =
        guardian == null
            ? null
            : system.systemActorOf(
                NodeUpgrades.create(guardian, nodeId), "node-upgrades", Props.empty());
    context.install(new ManagementContext.Hooks(guardian, metrics, probe, settings, upgrades));
    PekkoManagement management = PekkoManagement.get(system);
    Uri uri;
    try {
      uri = management.start().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      while (cause.getCause() != null
          && cause.getMessage() != null
          && cause.getMessage().startsWith("Failed to start")) {
        cause = cause.getCause();
      }
      throw new IOException(
          "management HTTP cannot listen on "
              + settings.host()
              + ":"
              + settings.port()
              + ": "
              + cause.getMessage()
              + " (set jfs-csi.management.port, or jfs-csi.management.enabled = false)",
          e);
    }
    CoordinatedShutdown.get(system)
        .addTask(
            CoordinatedShutdown.PhaseServiceUnbind(),
            "management-http",
            () -> {
              context.csiServing(false);
              return management.stop().exceptionally(e -> Done.getInstance());
            });
    log.info(
        "management HTTP listening on http://{}:{}/ (routes: / /alive /ready /clients "
            + "/volumes/ID /metrics; /cluster and /cluster/page with the controller's built-in "
            + "provisioner)",
        settings.host(),
        uri.port());
    return new ManagementServer(context, uri);
  }

  /** The port it listens on (the real one when the setting was 0). */
  public int port() {
    return uri.port();
  }

  /** Tells /ready whether the CSI socket is served. */
  public void csiServing(boolean serving) {
    context.csiServing(serving);
  }
}
