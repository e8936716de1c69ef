package io.jfscsi.warmup;

import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.jfscsi.runtime.kube.MountPodNames;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Cluster mode of {@code jfs-csi warmup}: finds the Mount Pods that serve a PVC's volume and runs
 * {@code juicefs warmup} inside each (through the API's exec, as {@code kubectl exec} does).
 */
public final class MountPodWarmup {

  /** One Mount Pod to warm and the paths inside it. */
  public record Plan(String namespace, String pod, String node, List<String> argv) {}

  private final KubernetesClient client;

  public MountPodWarmup(KubernetesClient client) {
    this.client = client;
  }

  /**
   * The {@code juicefs warmup} command of every running Mount Pod of the PVC's volume (on {@code
   * node} only, if given). Paths are taken inside the PV's subPath.
   */
  public List<Plan> plan(
      String namespace,
      String claim,
      List<String> paths,
      Optional<String> node,
      Optional<Integer> threads) {
    PersistentVolumeClaim pvc =
        client.persistentVolumeClaims().inNamespace(namespace).withName(claim).get();
    if (pvc == null) {
      throw new IllegalArgumentException("the PVC " + namespace + "/" + claim + " does not exist");
    }
    String pvName = pvc.getSpec().getVolumeName();
    PersistentVolume pv =
        pvName == null || pvName.isEmpty()
            ? null
            : client.persistentVolumes().withName(pvName).get();
    if (pv == null || pv.getSpec().getCsi() == null) {
      throw new IllegalArgumentException(
          "the PVC "
              + namespace
              + "/"
              + claim
              + " is not bound to a JuiceFS PV (jfs-csi doctor pvc "
              + namespace
              + "/"
              + claim
              + ")");
    }
    String handle = pv.getSpec().getCsi().getVolumeHandle();
    String subPath =
        Optional.ofNullable(pv.getSpec().getCsi().getVolumeAttributes())
            .map(a -> a.get("subPath"))
            .orElse("");
    List<Plan> plans = new ArrayList<>();
    for (Pod pod :
        client
            .pods()
            .inAnyNamespace()
            .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
            .withLabel(MountPodNames.VOLUME_ID_LABEL, MountPodNames.volumeLabel(handle))
            .list()
            .getItems()) {
      String podNode = pod.getSpec().getNodeName();
      boolean running =
          pod.getStatus() != null
              && "Running".equals(pod.getStatus().getPhase())
              && pod.getMetadata().getDeletionTimestamp() == null;
      if (!running || node.isPresent() && !node.get().equals(podNode)) {
        continue;
      }
      String mountPath =
          Optional.ofNullable(pod.getMetadata().getAnnotations())
              .map(a -> a.get(MountPodNames.MOUNT_PATH))
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "the Mount Pod "
                              + pod.getMetadata().getName()
                              + " was not made by jfs-csi (no "
                              + MountPodNames.MOUNT_PATH
                              + " annotation): run juicefs warmup in it by hand"));
      Path root = Path.of(mountPath).resolve(subPath);
      List<String> argv = new ArrayList<>(List.of("juicefs", "warmup"));
      threads.ifPresent(t -> argv.add("--threads=" + t));
      Warmup.resolve(root, paths).forEach(p -> argv.add(p.toString()));
      plans.add(
          new Plan(
              pod.getMetadata().getNamespace(),
              pod.getMetadata().getName(),
              podNode,
              List.copyOf(argv)));
    }
    if (plans.isEmpty()) {
      throw new IllegalArgumentException(
          "no running Mount Pod serves volume "
              + handle
              + node.map(n -> " on node " + n).orElse("")
              + ": warm-up runs where a pod uses the volume");
    }
    return plans;
  }

  /** Runs one plan through exec; returns the command's exit code, its output in {@code out}. */
  public int run(Plan plan, StringBuilder out, long timeoutSeconds) throws InterruptedException {
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    try (ExecWatch exec =
        client
            .pods()
            .inNamespace(plan.namespace())
            .withName(plan.pod())
            .inContainer(MountPodNames.CONTAINER)
            .writingOutput(stdout)
            .writingError(stderr)
            .exec(plan.argv().toArray(String[]::new))) {
      Integer code =
          exec.exitCode().completeOnTimeout(null, timeoutSeconds, TimeUnit.SECONDS).join();
      out.append(stdout.toString(StandardCharsets.UTF_8))
          .append(stderr.toString(StandardCharsets.UTF_8));
      if (code == null) {
        out.append("no answer within ").append(timeoutSeconds).append(" s");
        return 124;
      }
      return code;
    }
  }
}
