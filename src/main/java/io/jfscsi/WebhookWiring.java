package io.jfscsi;

import com.typesafe.config.Config;
import io.jfscsi.webhook.SidecarWebhookService;
import java.io.IOException;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The sidecar webhook of the controller ({@code --webhook}): app pods get their clients as
 * containers of their own.
 */
final class WebhookWiring {
  private WebhookWiring() {}

  /** Started when {@code jfs-csi.webhook.enabled}; it stops when the driver stops serving. */
  static void startIfConfigured(ActorSystem<?> system, Config c) throws IOException {
    SidecarWebhookService.startIfConfigured(c)
        .ifPresent(
            webhook -> ShutdownTasks.closeOnUnbind(system, "sidecar-webhook", webhook::close));
  }
}
