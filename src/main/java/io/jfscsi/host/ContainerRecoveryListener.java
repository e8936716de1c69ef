package io.jfscsi.host;

import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Told of every container that {@link NamespaceRecovery} recovered or could not recover (the
 * outcomes also go to the log). Listeners: the driver's metrics, and in cluster mode a Kubernetes
 * Event on the container's pod ({@code runtime.kube.PodRecoveryEvents}); {@link #all} fans out to
 * several. Called on the recovering mount actor's thread: keep it quick and let it not throw.
 */
@FunctionalInterface
public interface ContainerRecoveryListener {

  ContainerRecoveryListener NONE = outcome -> {};

  void onOutcome(ContainerOutcome outcome);

  /** Tells each listener in turn; one that throws does not keep the others from hearing it. */
  static ContainerRecoveryListener all(List<ContainerRecoveryListener> listeners) {
    List<ContainerRecoveryListener> copy = List.copyOf(listeners);
    return outcome -> {
      for (ContainerRecoveryListener l : copy) {
        try {
          l.onOutcome(outcome);
        } catch (RuntimeException e) {
          LoggerFactory.getLogger(ContainerRecoveryListener.class)
              .warn("a container recovery listener failed: {}", e.toString());
        }
      }
    };
  }
}
