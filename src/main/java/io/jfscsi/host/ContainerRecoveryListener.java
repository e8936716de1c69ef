package io.jfscsi.host;

/**
 * Told of every container that {@link ContainerRecovery} recovered or could not recover. The seam
 * for metrics and, in cluster mode, Kubernetes Events on the pod ({@link ContainerOutcome#podUid}
 * names it): neither exists yet, so the only listener today is {@link #NONE} and the outcomes go
 * to the log. Called on the recovering mount actor's thread: keep it quick and let it not throw.
 */
@FunctionalInterface
public interface ContainerRecoveryListener {

  ContainerRecoveryListener NONE = outcome -> { };

  void onOutcome(ContainerOutcome outcome);
}
