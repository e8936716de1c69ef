package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.Failure;
import io.jfscsi.runtime.kube.KubeEvents;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The built-in provisioner's Events (ProvisioningSucceeded, ProvisioningFailed, VolumeFailedDelete)
 * as external-provisioner writes them, and the words they carry: never a Secret value.
 */
final class ProvisioningEvents {
  // Under the loop's name, where operators already look for the provisioner's words.
  private static final Logger log = LoggerFactory.getLogger(ProvisioningLoop.class);

  private final KubernetesClient client;
  private final String component;

  /** {@code component}: the Events' source, the driver name and this replica's identity. */
  ProvisioningEvents(KubernetesClient client, String component) {
    this.client = client;
    this.component = component;
  }

  /** What went wrong, in words fit for an Event: a Failure's message, or the API's status. */
  static String plain(RuntimeException e) {
    if (e instanceof Failure f) {
      return f.getMessage();
    }
    if (e instanceof KubernetesClientException k) {
      String message =
          k.getStatus() != null && k.getStatus().getMessage() != null
              ? k.getStatus().getMessage()
              : "HTTP " + k.getCode();
      return "the API server refused a request: " + message;
    }
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  /** Records an Event on {@code subject}; a refusal of the API server is only logged. */
  void record(HasMetadata subject, String type, String reason, String message) {
    Event event = KubeEvents.of(subject, reason, type, message, component, null, Clock.systemUTC());
    try {
      client.v1().events().inNamespace(event.getMetadata().getNamespace()).resource(event).create();
    } catch (KubernetesClientException e) {
      log.warn(
          "cannot record event {} on {} {}: {}",
          reason,
          subject.getKind(),
          subject.getMetadata().getName(),
          plain(e));
    }
  }
}
