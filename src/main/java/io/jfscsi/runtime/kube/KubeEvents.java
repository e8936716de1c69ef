package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.time.Clock;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/**
 * A core/v1 Event about an object, as kubelet and external-provisioner write theirs: the node
 * plugin's on pods and on the ConfigMap, the built-in provisioner's on claims and volumes.
 */
public final class KubeEvents {
  /** The node plugin's component name in its Events. */
  public static final String NODE_COMPONENT = "jfs-csi-node";

  /** The longest message kept; the API server refuses far longer ones. */
  static final int MAX_MESSAGE = 1024;

  private KubeEvents() {}

  /**
   * An Event on {@code subject} (in its namespace, or {@code default} for a cluster-scoped one)
   * from {@code component}; {@code host} is the node it happened on, or null.
   */
  public static Event of(
      HasMetadata subject,
      String reason,
      String type,
      String message,
      String component,
      String host,
      Clock clock) {
    String now =
        DateTimeFormatter.ISO_INSTANT.format(clock.instant().truncatedTo(ChronoUnit.SECONDS));
    String namespace =
        subject.getMetadata().getNamespace() == null
            ? "default"
            : subject.getMetadata().getNamespace();
    return new EventBuilder()
        .withNewMetadata()
        .withGenerateName(subject.getMetadata().getName() + ".")
        .withNamespace(namespace)
        .endMetadata()
        .withNewInvolvedObject()
        .withApiVersion(subject.getApiVersion())
        .withKind(subject.getKind())
        .withNamespace(subject.getMetadata().getNamespace())
        .withName(subject.getMetadata().getName())
        .withUid(subject.getMetadata().getUid())
        .withResourceVersion(subject.getMetadata().getResourceVersion())
        .endInvolvedObject()
        .withReason(reason)
        .withType(type)
        .withMessage(
            message.length() > MAX_MESSAGE
                ? message.substring(0, MAX_MESSAGE - 3) + "..."
                : message)
        .withNewSource()
        .withComponent(component)
        .withHost(host)
        .endSource()
        .withReportingComponent(component)
        .withReportingInstance(host == null ? component : host)
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withCount(1)
        .build();
  }
}
