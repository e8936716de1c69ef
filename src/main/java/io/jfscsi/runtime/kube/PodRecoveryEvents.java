package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.ContainerRecoveryListener;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kubernetes Event (core/v1) on the app pod of every container recovery: reason {@value
 * #RECOVERED} (Normal) or {@value #FAILED} (Warning, the message says why), source {@value
 * #COMPONENT} on this node. The pod is the one the outcome's cgroup names, else the one of its
 * target path ({@code <kubelet>/pods/<uid>/volumes/...}); its namespace and name come from the
 * informer of this node's pods. An outcome of no known pod posts nothing. The Event is written on
 * {@code executor}: the recovering actor never waits for the API server.
 */
public final class PodRecoveryEvents implements ContainerRecoveryListener {
  private static final Logger log = LoggerFactory.getLogger(PodRecoveryEvents.class);
  public static final String RECOVERED = "JuiceFSContainerRecovered";
  public static final String FAILED = "JuiceFSContainerRecoveryFailed";
  public static final String COMPONENT = KubeEvents.NODE_COMPONENT;

  private final KubernetesClient client;
  private final String node;
  private final Function<String, Optional<Pod>> podByUid;
  private final Executor executor;
  private final Clock clock;

  public PodRecoveryEvents(
      KubernetesClient client,
      String node,
      Function<String, Optional<Pod>> podByUid,
      Executor executor,
      Clock clock) {
    this.client = client;
    this.node = node;
    this.podByUid = podByUid;
    this.executor = executor;
    this.clock = clock;
  }

  @Override
  public void onOutcome(ContainerOutcome outcome) {
    Optional<String> uid = outcome.podUid().or(() -> outcome.target().flatMap(NodeAppPods::uidOf));
    if (uid.isEmpty()) {
      return;
    }
    try {
      executor.execute(() -> post(uid.get(), outcome));
    } catch (RuntimeException e) {
      log.warn("no Event for the recovery of {}: {}", outcome.describe(), e.toString());
    }
  }

  /** Writes the Event now; false when the pod is unknown or the API server refused it. */
  boolean post(String uid, ContainerOutcome outcome) {
    Optional<Pod> pod = podByUid.apply(uid);
    if (pod.isEmpty()) {
      log.info(
          "no Event for the recovery of {}: pod {} is not known on node {}",
          outcome.describe(),
          uid,
          node);
      return false;
    }
    try {
      client
          .v1()
          .events()
          .inNamespace(pod.get().getMetadata().getNamespace())
          .resource(event(pod.get(), outcome))
          .create();
      return true;
    } catch (KubernetesClientException e) {
      log.warn(
          "cannot post the Event of {} on pod {}/{}: {}",
          outcome.describe(),
          pod.get().getMetadata().getNamespace(),
          pod.get().getMetadata().getName(),
          e.getMessage());
      return false;
    }
  }

  Event event(Pod pod, ContainerOutcome outcome) {
    return KubeEvents.of(
        pod,
        outcome.recovered() ? RECOVERED : FAILED,
        outcome.recovered() ? "Normal" : "Warning",
        "volume " + outcome.volumeId() + ": " + outcome.describe(),
        COMPONENT,
        node,
        clock);
  }
}
