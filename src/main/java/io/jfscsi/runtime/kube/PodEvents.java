package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Clock;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/** A core/v1 Event about a pod, from the node plugin ({@value #COMPONENT}) of node {@code node}. */
final class PodEvents {
  static final String COMPONENT = "jfs-csi-node";

  private PodEvents() {}

  static Event of(Pod pod, String reason, String type, String message, String node, Clock clock) {
    String now =
        DateTimeFormatter.ISO_INSTANT.format(clock.instant().truncatedTo(ChronoUnit.SECONDS));
    return new EventBuilder()
        .withNewMetadata()
        .withGenerateName(pod.getMetadata().getName() + ".")
        .withNamespace(pod.getMetadata().getNamespace())
        .endMetadata()
        .withNewInvolvedObject()
        .withApiVersion("v1")
        .withKind("Pod")
        .withNamespace(pod.getMetadata().getNamespace())
        .withName(pod.getMetadata().getName())
        .withUid(pod.getMetadata().getUid())
        .endInvolvedObject()
        .withReason(reason)
        .withType(type)
        .withMessage(message.length() > 1024 ? message.substring(0, 1021) + "..." : message)
        .withNewSource()
        .withComponent(COMPONENT)
        .withHost(node)
        .endSource()
        .withReportingComponent(COMPONENT)
        .withReportingInstance(node)
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withCount(1)
        .build();
  }
}
