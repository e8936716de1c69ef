package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.KubeCluster;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** GET /cluster's content, read from the real API server. */
class ClusterViewClusterTest {

  @Test
  @SuppressWarnings("unchecked")
  void showsTheDriversVolumesWithClaimPodsAndMountPodReferences() {
    KubeCluster cluster = KubeCluster.shared();
    KubernetesClient k = cluster.client();
    String ns = cluster.newNamespace("view");
    String driver = ns + ".csi.juicefs.com"; // a driver name of this test's own
    cluster.createNode(ns + "-node");
    k.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(ns + "-sc")
                .endMetadata()
                .withProvisioner(driver)
                .withReclaimPolicy("Retain")
                .withParameters(Map.of("juicefs/mount-delete-delay", "1m"))
                .build())
        .create();
    String pv = ns + "-pv";
    String target = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/" + pv + "/mount";
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
                .withDriver(driver)
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
    k.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("app")
                .endMetadata()
                .withNewSpec()
                .withNodeName(ns + "-node")
                .addNewContainer()
                .withName("app")
                .withImage("busybox")
                .endContainer()
                .addNewVolume()
                .withName("d")
                .withNewPersistentVolumeClaim()
                .withClaimName("data")
                .endPersistentVolumeClaim()
                .endVolume()
                .endSpec()
                .build())
        .create();
    k.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("juicefs-m")
                .addToLabels("app.kubernetes.io/name", "juicefs-mount")
                .addToLabels("volume-id", pv)
                .addToAnnotations(MountPodNames.referenceKey(target), target)
                .endMetadata()
                .withNewSpec()
                .withNodeName(ns + "-node")
                .addNewContainer()
                .withName("jfs-mount")
                .withImage("m")
                .endContainer()
                .endSpec()
                .build())
        .create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                "Bound"
                    .equals(
                        k.persistentVolumeClaims()
                            .inNamespace(ns)
                            .withName("data")
                            .get()
                            .getStatus()
                            .getPhase()));

    Map<String, Object> view = new ClusterView(k, driver).read();

    assertThat((List<Map<String, Object>>) view.get("storageClasses"))
        .singleElement()
        .satisfies(sc -> assertThat(sc).containsEntry("name", ns + "-sc"));
    Map<String, Object> volume = ((List<Map<String, Object>>) view.get("volumes")).getFirst();
    assertThat(volume)
        .containsEntry("pv", pv)
        .containsEntry("claim", ns + "/data")
        .containsEntry("claimPhase", "Bound")
        .containsEntry("subPath", "data");
    assertThat((List<Map<String, Object>>) volume.get("pods"))
        .singleElement()
        .satisfies(p -> assertThat(p).containsEntry("pod", ns + "/app"));
    assertThat((List<Map<String, Object>>) volume.get("mountPods"))
        .singleElement()
        .satisfies(
            p ->
                assertThat(p)
                    .containsEntry("pod", ns + "/juicefs-m")
                    .containsEntry(
                        "references",
                        List.of(
                            "/var/lib/kubelet/pods/u/volumes/"
                                + "kubernetes.io~csi/"
                                + pv
                                + "/mount")));
    assertThat(new ClusterView(k, driver).json()).contains("\"driver\":\"" + driver + "\"");
  }
}
