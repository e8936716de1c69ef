package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.jfscsi.Failure;
import io.jfscsi.host.MountCheck;
import io.jfscsi.host.Mounter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a Mount Pod goes: deleted (kubelet stops its client), our finalizer dropped so that the
 * object goes, awaited until it is gone (up to its grace period + 20 s), then its mount path
 * unmounted and removed. Blocking: called on the runtime's threads.
 */
final class MountPodRemoval {
  private static final Logger log = LoggerFactory.getLogger(MountPodRemoval.class);

  private final KubeRuntimeConfig config;
  private final KubernetesClient client;
  private final Mounter mounter;
  private final MountPodWatch pods;

  MountPodRemoval(
      KubeRuntimeConfig config, KubernetesClient client, Mounter mounter, MountPodWatch pods) {
    this.config = config;
    this.client = client;
    this.mounter = mounter;
    this.pods = pods;
  }

  /** A pod that is not (or no longer) used: delete it, wait until it is gone, unmount its path. */
  void discard(Pod pod) {
    String name = pod.getMetadata().getName();
    pods.unwatch(name);
    remove(name, Optional.of(pod), mountPathOf(pod), Optional.empty());
  }

  /**
   * A pod whose FUSE connection the node's keeper holds for its successor: deleted with a grace
   * period of at least {@code grace} (its preStop hook waits for the client to flush and exit) and
   * awaited, its mount path left mounted.
   */
  void handOver(Pod pod, Duration grace) {
    String name = pod.getMetadata().getName();
    pods.unwatch(name);
    remove(
        name,
        Optional.of(pod),
        Optional.empty(),
        Optional.of(Math.max(grace.toSeconds(), graceOf(pod))));
  }

  /** A stopped client's pod, by name: removed as {@link #discard}; returns the pod last seen. */
  Optional<Pod> stop(String name, Path mountPath) {
    pods.unwatch(name);
    Optional<Pod> pod = pods.latest(name);
    remove(name, pod, Optional.of(mountPath), Optional.empty());
    return pod;
  }

  /** Deletes and awaits the pod, with {@code grace} seconds if given, else its own grace. */
  private void remove(
      String name, Optional<Pod> pod, Optional<Path> mountPath, Optional<Long> grace) {
    pod.ifPresent(
        p -> {
          deletePod(p, grace);
          awaitGone(
              name,
              grace.orElseGet(() -> pods.get(name).map(this::graceOf).orElse(defaultGrace())));
        });
    mountPath.ifPresent(this::unmountAndRemove);
    pods.forget(name);
  }

  /**
   * Deletes the pod (kubelet stops the client), with {@code grace} seconds if given, then drops our
   * finalizer so the object goes.
   */
  private void deletePod(Pod pod, Optional<Long> grace) {
    String name = pod.getMetadata().getName();
    var resource = client.pods().inNamespace(config.namespace()).withName(name);
    try {
      if (pod.getMetadata().getDeletionTimestamp() == null) {
        if (grace.isPresent()) {
          resource.withGracePeriod(grace.get()).delete();
        } else {
          resource.delete();
        }
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw new Failure(
            Failure.Code.UNAVAILABLE, "cannot delete Mount Pod " + name + ": " + e.getMessage(), e);
      }
    }
    Pod current = pod;
    for (int attempt = 0; attempt < 5 && current != null; attempt++) {
      List<String> finalizers = current.getMetadata().getFinalizers();
      int at = finalizers == null ? -1 : finalizers.indexOf(MountPodNames.FINALIZER);
      if (at < 0) {
        return;
      }
      String patch =
          "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/"
              + at
              + "\",\"value\":\""
              + MountPodNames.FINALIZER
              + "\"},{\"op\":\"remove\",\"path\":\"/metadata/finalizers/"
              + at
              + "\"}]";
      try {
        // On the object itself: on a name alone, fabric8 would GET it first.
        client
            .pods()
            .inNamespace(config.namespace())
            .resource(current)
            .patch(PatchContext.of(PatchType.JSON), patch);
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          return;
        }
        if (e.getCode() != 409 && e.getCode() != 422 && e.getCode() != 500) {
          throw new Failure(
              Failure.Code.UNAVAILABLE,
              "cannot remove the finalizer of Mount Pod " + name + ": " + e.getMessage(),
              e);
        }
        current = resource.get(); // the list changed under us: read it again
      }
    }
  }

  /** The pod's own grace: the ConfigMap may have set it (terminationGracePeriodSeconds). */
  private long graceOf(Pod pod) {
    Long own = pod.getSpec().getTerminationGracePeriodSeconds();
    return own == null ? defaultGrace() : own;
  }

  private long defaultGrace() {
    return config.terminationGrace().toSeconds();
  }

  private void awaitGone(String name, long grace) {
    long deadline = System.nanoTime() + Duration.ofSeconds(grace).plusSeconds(20).toNanos();
    while (pods.get(name).isPresent() && System.nanoTime() - deadline < 0) {
      MountPodWatch.pause();
    }
    if (pods.get(name).isPresent()) {
      log.warn("Mount Pod {} is still there after its grace period", name);
    }
  }

  static Optional<Path> mountPathOf(Pod pod) {
    String path = PodReferences.annotations(pod).get(MountPodNames.MOUNT_PATH);
    return path != null ? Optional.of(Path.of(path)) : GoMountPods.mountPath(pod);
  }

  private void unmountAndRemove(Path mountPath) {
    MountCheck.unmountQuietly(mounter, mountPath);
    MountCheck.removeEmptyDir(mountPath);
  }
}
