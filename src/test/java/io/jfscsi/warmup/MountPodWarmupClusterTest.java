package io.jfscsi.warmup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.Failure;
import io.jfscsi.cli.Main;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.KubeCluster;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * `jfs-csi warmup --pvc` against the real API server: from the PVC to the Mount Pods of its volume
 * and the paths inside them. These Mount Pods are bare objects on Nodes that no kubelet serves, so
 * the exec fails; io.jfscsi.node.VolumesOnNodeTest runs the exec in a real Mount Pod under a real
 * kubelet.
 */
class MountPodWarmupClusterTest {

  KubernetesClient k;
  KubeCluster cluster;
  String ns;
  String pv;

  @BeforeEach
  void setUp() {
    cluster = KubeCluster.shared();
    k = cluster.client();
    ns = cluster.newNamespace("warmup");
    cluster.createNode(ns + "-a");
    cluster.createNode(ns + "-b");
    pv = ns + "-pv";
    k.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .addToCapacity("storage", new Quantity("1Gi"))
                .withAccessModes("ReadWriteMany")
                .withStorageClassName("")
                .withNewCsi()
                .withDriver("csi.juicefs.com")
                .withVolumeHandle(pv)
                .withVolumeAttributes(Map.of("subPath", "data"))
                .endCsi()
                .endSpec()
                .build())
        .create();
    k.persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName("data")
                .endMetadata()
                .withNewSpec()
                .withStorageClassName("")
                .withVolumeName(pv)
                .withAccessModes("ReadWriteMany")
                .withNewResources()
                .addToRequests("storage", new Quantity("1Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
  }

  Pod mountPod(String name, String node, boolean ours) {
    var meta =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .addToLabels(MountPodNames.APP_LABEL, MountPodNames.APP)
            .addToLabels(MountPodNames.VOLUME_ID_LABEL, pv);
    if (ours) {
      meta.addToAnnotations(MountPodNames.MOUNT_PATH, "/var/lib/juicefs/volume/" + name);
    }
    Pod pod =
        k.pods()
            .inNamespace(ns)
            .resource(
                meta.endMetadata()
                    .withNewSpec()
                    .withNodeName(node)
                    .addNewContainer()
                    .withName(MountPodNames.CONTAINER)
                    .withImage("m")
                    .endContainer()
                    .endSpec()
                    .build())
            .create();
    pod.setStatus(new PodStatusBuilder().withPhase("Running").build());
    return k.pods().inNamespace(ns).resource(pod).updateStatus();
  }

  @Test
  void plansJuicefsWarmupInEachRunningMountPodInsideTheSubPath() {
    mountPod("jfs-a", ns + "-a", true);
    mountPod("jfs-b", ns + "-b", true);
    MountPodWarmup warmup = new MountPodWarmup(k);

    var plans =
        warmup.plan(ns, "data", List.of("models", "/index"), Optional.empty(), Optional.of(8));
    assertThat(plans)
        .extracting(MountPodWarmup.Plan::pod)
        .containsExactlyInAnyOrder("jfs-a", "jfs-b");
    assertThat(plans.stream().filter(p -> p.pod().equals("jfs-a")).findFirst().orElseThrow().argv())
        .containsExactly(
            "juicefs",
            "warmup",
            "--threads=8",
            "/var/lib/juicefs/volume/jfs-a/data/models",
            "/var/lib/juicefs/volume/jfs-a/data/index");

    assertThat(warmup.plan(ns, "data", List.of(), Optional.of(ns + "-b"), Optional.empty()))
        .singleElement()
        .satisfies(
            p ->
                assertThat(p.argv())
                    .containsExactly("juicefs", "warmup", "/var/lib/juicefs/volume/jfs-b/data"));
    assertThatThrownBy(
            () ->
                warmup.plan(ns, "data", List.of("../../other"), Optional.empty(), Optional.empty()))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("leaves the volume");
  }

  @Test
  void saysWhyWhenNoMountPodCanBeWarmed() {
    MountPodWarmup warmup = new MountPodWarmup(k);
    assertThatThrownBy(() -> warmup.plan(ns, "data", List.of(), Optional.empty(), Optional.empty()))
        .hasMessageContaining("no running Mount Pod serves volume " + pv);
    assertThatThrownBy(() -> warmup.plan(ns, "nope", List.of(), Optional.empty(), Optional.empty()))
        .hasMessageContaining("the PVC " + ns + "/nope does not exist");

    mountPod("go-made", ns + "-a", false);
    assertThatThrownBy(() -> warmup.plan(ns, "data", List.of(), Optional.empty(), Optional.empty()))
        .hasMessageContaining("was not made by jfs-csi");
  }

  @Test
  void theCommandPrintsEachPlanAndFailsWhenNoKubeletServesTheNode() {
    mountPod("jfs-a", ns + "-a", true);
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                k.pods()
                    .inNamespace(ns)
                    .withName("jfs-a")
                    .get()
                    .getStatus()
                    .getPhase()
                    .equals("Running"));
    StringWriter out = new StringWriter();
    int code =
        Main.commandLine()
            .setOut(new PrintWriter(out))
            .setErr(new PrintWriter(out))
            .execute(
                "warmup",
                "--pvc",
                ns + "/data",
                "models",
                "--kubeconfig",
                cluster.kubeconfig().toString(),
                "--timeout",
                "20");
    assertThat(out.toString())
        .contains(
            ns
                + "/jfs-a on node "
                + ns
                + "-a: juicefs warmup "
                + "/var/lib/juicefs/volume/jfs-a/data/models");
    assertThat(code).as(out.toString()).isNotZero(); // the Node has no kubelet port to exec in
  }
}
