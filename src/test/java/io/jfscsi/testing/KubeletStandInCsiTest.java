package io.jfscsi.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.storage.CSIDriverBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stand-in publishes a pod's juicefs PVC through a real driver's CSI socket, like kubelet. */
class KubeletStandInCsiTest {

  @Test
  void a_pod_with_a_juicefs_claim_gets_it_published_and_unpublished(@TempDir Path tmp)
      throws Exception {
    HostRequirements.requireFuse();
    KubeCluster cluster = KubeCluster.shared();
    KubernetesClient k = cluster.client();
    String ns = cluster.newNamespace("standin-csi");
    String node = "standin-csi-" + ProcessHandle.current().pid();
    String pvName = ns + "-pv";
    if (k.storage().v1().csiDrivers().withName("csi.juicefs.com").get() == null) {
      k.storage()
          .v1()
          .csiDrivers()
          .resource(
              new CSIDriverBuilder()
                  .withNewMetadata()
                  .withName("csi.juicefs.com")
                  .endMetadata()
                  .withNewSpec()
                  .withAttachRequired(false)
                  .withPodInfoOnMount(true)
                  .withVolumeLifecycleModes("Persistent")
                  .endSpec()
                  .build())
          .create();
    }
    try (DriverFixture driver = new DriverFixture(tmp).start();
        KubeletStandIn kubelet =
            new KubeletStandIn(cluster, node, "unix://" + driver.socket, driver.kubelet).start()) {
      Files.createDirectories(driver.data.resolve("vol-1"));
      Files.writeString(driver.data.resolve("vol-1/hello.txt"), "published");
      k.secrets()
          .inNamespace(ns)
          .resource(
              new SecretBuilder()
                  .withNewMetadata()
                  .withName("jfs")
                  .endMetadata()
                  .addToStringData(driver.secrets())
                  .build())
          .create();
      k.persistentVolumes()
          .resource(
              new PersistentVolumeBuilder()
                  .withNewMetadata()
                  .withName(pvName)
                  .endMetadata()
                  .withNewSpec()
                  .addToCapacity("storage", new Quantity("1Gi"))
                  .withAccessModes("ReadWriteMany")
                  .withStorageClassName("")
                  .withNewClaimRef()
                  .withNamespace(ns)
                  .withName("data")
                  .endClaimRef()
                  .withNewCsi()
                  .withDriver("csi.juicefs.com")
                  .withVolumeHandle("vol-1")
                  .addToVolumeAttributes("subPath", "vol-1")
                  .withNewNodePublishSecretRef()
                  .withName("jfs")
                  .withNamespace(ns)
                  .endNodePublishSecretRef()
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
                  .withAccessModes("ReadWriteMany")
                  .withStorageClassName("")
                  .withVolumeName(pvName)
                  .withNewResources()
                  .addToRequests("storage", new Quantity("1Gi"))
                  .endResources()
                  .endSpec()
                  .build())
          .create();
      Pod app =
          k.pods()
              .inNamespace(ns)
              .resource(
                  new PodBuilder()
                      .withNewMetadata()
                      .withName("app")
                      .endMetadata()
                      .withNewSpec()
                      .withNodeName(node)
                      .withTerminationGracePeriodSeconds(2L)
                      .addNewContainer()
                      .withName("app")
                      .withImage("busybox")
                      .withCommand("sleep", "300")
                      .addNewVolumeMount()
                      .withName("data")
                      .withMountPath("/data")
                      .endVolumeMount()
                      .endContainer()
                      .addNewVolume()
                      .withName("data")
                      .withNewPersistentVolumeClaim()
                      .withClaimName("data")
                      .endPersistentVolumeClaim()
                      .endVolume()
                      .endSpec()
                      .build())
              .create();
      Path target = kubelet.csiTarget(app.getMetadata().getUid(), pvName);

      await()
          .atMost(Duration.ofSeconds(90))
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(k.pods().inNamespace(ns).withName("app").get().getStatus().getPhase())
                    .isEqualTo("Running");
                assertThat(Files.readString(target.resolve("hello.txt"))).isEqualTo("published");
              });

      k.pods().inNamespace(ns).withName("app").delete();
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(k.pods().inNamespace(ns).withName("app").get()).isNull();
                assertThat(target.getParent()).doesNotExist();
              });
    } finally {
      k.persistentVolumes().withName(pvName).delete();
      k.namespaces().withName(ns).delete();
      cluster.deleteNode(node);
    }
  }
}
