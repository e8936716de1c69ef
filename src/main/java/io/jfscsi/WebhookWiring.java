package io.jfscsi;

import com.typesafe.config.Config;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.controller.kube.ControllerConfigMap;
import io.jfscsi.runtime.kube.KubeMountRuntime;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import io.jfscsi.webhook.SidecarWebhookService;
import java.io.IOException;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The sidecar webhook of the controller ({@code --webhook}): app pods get their clients as
 * containers of their own. It reads the global ConfigMap through the controller's one watch.
 */
final class WebhookWiring {
  private WebhookWiring() {}

  /** Started when {@code jfs-csi.webhook.enabled}; it stops when the driver stops serving. */
  static void startIfConfigured(
      ActorSystem<?> system, Config c, MountRuntime runtime, ControllerConfigMap controllerConfig)
      throws IOException {
    SidecarWebhookService.startIfConfigured(c, globalConfig(runtime, controllerConfig))
        .ifPresent(
            webhook -> ShutdownTasks.closeOnUnbind(system, "sidecar-webhook", webhook::close));
  }

  /**
   * The controller's watch of the global ConfigMap: its runtime's (kubernetes) or the one of its
   * quota switches; empty outside a cluster, where the webhook watches the ConfigMap itself.
   */
  static Optional<GlobalConfigWatch> globalConfig(
      MountRuntime runtime, ControllerConfigMap controllerConfig) {
    return runtime instanceof KubeMountRuntime kube
        ? Optional.of(kube.globalConfig())
        : controllerConfig.watch();
  }
}
