package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.Failure;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
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
    String namespace =
        subject.getMetadata().getNamespace() == null
            ? "default"
            : subject.getMetadata().getNamespace();
    ObjectReference ref =
        new ObjectReferenceBuilder()
            .withKind(subject.getKind())
            .withApiVersion(subject.getApiVersion())
            .withName(subject.getMetadata().getName())
            .withNamespace(subject.getMetadata().getNamespace())
            .withUid(subject.getMetadata().getUid())
            .withResourceVersion(subject.getMetadata().getResourceVersion())
            .build();
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    try {
      client
          .v1()
          .events()
          .inNamespace(namespace)
          .resource(
              new EventBuilder()
                  .withNewMetadata()
                  .withGenerateName(subject.getMetadata().getName() + ".")
                  .withNamespace(namespace)
                  .endMetadata()
                  .withInvolvedObject(ref)
                  .withType(type)
                  .withReason(reason)
                  .withMessage(message.length() > 1000 ? message.substring(0, 1000) : message)
                  .withNewSource()
                  .withComponent(component)
                  .endSource()
                  .withFirstTimestamp(now)
                  .withLastTimestamp(now)
                  .withCount(1)
                  .build())
          .create();
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
