package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Just enough kubelet for runtime-level tests of Mount Pods: for each pod of the node it serves
 * {@code data} with bindfs at the pod's mount path and reports it Running and Ready; on deletion
 * it stops bindfs, unmounts and deletes the object once no finalizer is left.
 */
final class MiniKubelet implements AutoCloseable {
  private final KubernetesClient api;
  private final String namespace;
  private final Path data;
  private final Map<String, Process> clients = new ConcurrentHashMap<>();
  private final SharedIndexInformer<Pod> informer;

  MiniKubelet(KubernetesClient api, String namespace, String node, Path data) {
    this.api = api;
    this.namespace = namespace;
    this.data = data;
    this.informer = api.pods().inNamespace(namespace).withField("spec.nodeName", node)
        .inform(new ResourceEventHandler<>() {
          @Override
          public void onAdd(Pod p) {
            sync(p);
          }

          @Override
          public void onUpdate(Pod o, Pod p) {
            sync(p);
          }

          @Override
          public void onDelete(Pod p, boolean unknown) {
            stop(p);
          }
        });
  }

  static Optional<Path> mountPath(Pod p) {
    String annotated = p.getMetadata().getAnnotations() == null ? null
        : p.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH);
    return annotated != null ? Optional.of(Path.of(annotated)) : GoMountPods.mountPath(p);
  }

  private synchronized void sync(Pod p) {
    String name = p.getMetadata().getName();
    try {
      if (p.getMetadata().getDeletionTimestamp() != null) {
        stop(p);
        if (p.getMetadata().getFinalizers() == null || p.getMetadata().getFinalizers().isEmpty()) {
          api.pods().inNamespace(namespace).withName(name).withGracePeriod(0).delete();
        }
        return;
      }
      if (clients.containsKey(name) || mountPath(p).isEmpty()) {
        return;
      }
      Path mp = mountPath(p).get();
      Files.createDirectories(mp);
      clients.put(name, new ProcessBuilder("bindfs", "-f", data.toString(), mp.toString())
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
      Thread.sleep(200);
      p.setStatus(new PodStatusBuilder().withPhase("Running")
          .addNewCondition().withType("Ready").withStatus("True").endCondition()
          .addNewContainerStatus().withName("jfs-mount").withRestartCount(0).withReady(true)
          .withImage("x").withImageID("x").withNewState().withNewRunning().endRunning().endState()
          .endContainerStatus().build());
      api.pods().inNamespace(namespace).resource(p).updateStatus();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private void stop(Pod p) {
    Process client = clients.remove(p.getMetadata().getName());
    if (client != null) {
      client.destroy();
      try {
        client.waitFor();
        mountPath(p).ifPresent(mp -> {
          try {
            new ProcessBuilder("umount", "-l", mp.toString()).start().waitFor();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public void close() {
    informer.close();
    clients.values().forEach(Process::destroyForcibly);
  }
}
