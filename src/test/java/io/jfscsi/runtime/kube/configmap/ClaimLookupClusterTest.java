package io.jfscsi.runtime.kube.configmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.jfscsi.runtime.kube.RequestCounter;
import io.jfscsi.testing.KubeCluster;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How many reads a publish's claim lookup costs against the real API server. A static PV named
 * other than its volume handle is found by listing every PV once; later lookups read that PV by
 * name (a list per publish is the whole PV table of the cluster). Moved to another PV, the handle
 * is found again.
 */
class ClaimLookupClusterTest {
  static final String LABEL = "jfs-csi.io/test-ns";

  KubeCluster cluster;
  KubernetesClient api;
  RequestCounter counter;
  String ns;

  @BeforeEach
  void start() {
    cluster = KubeCluster.shared();
    counter = new RequestCounter();
    api =
        new KubernetesClientBuilder()
            .withConfig(cluster.config())
            .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("count", counter))
            .build();
    ns = cluster.newNamespace("claimlookup");
  }

  @AfterEach
  void stop() {
    if (api != null) {
      api.persistentVolumes().withLabel(LABEL, ns).delete();
      api.close();
    }
  }

  private void staticVolume(String pv, String handle, String claim) {
    api.persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName(claim)
                .endMetadata()
                .withNewSpec()
                .withAccessModes("ReadWriteMany")
                .withStorageClassName("")
                .withVolumeName(pv)
                .withNewResources()
                .addToRequests("storage", new Quantity("1Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
    String uid =
        api.persistentVolumeClaims().inNamespace(ns).withName(claim).get().getMetadata().getUid();
    PersistentVolume volume =
        new PersistentVolumeBuilder()
            .withNewMetadata()
            .withName(pv)
            .addToLabels(LABEL, ns)
            .endMetadata()
            .withNewSpec()
            .withAccessModes("ReadWriteMany")
            .addToCapacity("storage", new Quantity("1Gi"))
            .withPersistentVolumeReclaimPolicy("Retain")
            .withStorageClassName("")
            .withNewClaimRef()
            .withNamespace(ns)
            .withName(claim)
            .withUid(uid)
            .endClaimRef()
            .withNewCsi()
            .withDriver("csi.juicefs.com")
            .withVolumeHandle(handle)
            .endCsi()
            .endSpec()
            .build();
    api.persistentVolumes().resource(volume).create();
  }

  private Map<String, Long> reads(Runnable lookup) {
    Map<String, Long> before = counter.snapshot();
    lookup.run();
    Map<String, Long> spent = RequestCounter.since(before, counter.snapshot());
    System.out.println("claim lookup: " + spent);
    return spent;
  }

  @Test
  void aStaticVolumeIsListedOnceThenReadByName() {
    String handle = ns + "-handle";
    staticVolume(ns + "-static", handle, "data");
    ClaimLookup lookup = new ClaimLookup(api);

    // First: the PV named like the handle (none), then the list.
    assertThat(
            reads(
                () ->
                    assertThat(lookup.claimOf(handle).orElseThrow().getMetadata().getName())
                        .isEqualTo("data")))
        .containsOnly(
            Map.entry("GET persistentvolumes", 2L), Map.entry("GET persistentvolumeclaims", 1L));
    // Then: the one PV by its name, no list.
    assertThat(
            reads(
                () ->
                    assertThat(lookup.claimOf(handle).orElseThrow().getMetadata().getName())
                        .isEqualTo("data")))
        .containsOnly(
            Map.entry("GET persistentvolumes", 1L), Map.entry("GET persistentvolumeclaims", 1L));

    // The PV replaced by another of another name with the same handle: found again by a list.
    // Deleted, then without the pv-protection finalizer that keeps a bound PV (the controller
    // manager adds it at any time before the deletion).
    api.persistentVolumes().withName(ns + "-static").delete();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              api.persistentVolumes()
                  .withName(ns + "-static")
                  .edit(
                      pv -> {
                        pv.getMetadata().setFinalizers(java.util.List.of());
                        return pv;
                      });
              assertThat(api.persistentVolumes().withName(ns + "-static").get()).isNull();
            });
    staticVolume(ns + "-moved", handle, "moved");
    assertThat(lookup.claimOf(handle).orElseThrow().getMetadata().getName()).isEqualTo("moved");
    assertThat(reads(() -> lookup.claimOf(handle)))
        .containsOnly(
            Map.entry("GET persistentvolumes", 1L), Map.entry("GET persistentvolumeclaims", 1L));
  }

  @Test
  void aDynamicVolumeIsReadByNameOnly() {
    staticVolume(ns + "-dyn", ns + "-dyn", "dyn");
    ClaimLookup lookup = new ClaimLookup(api);
    assertThat(
            reads(
                () ->
                    assertThat(lookup.claimOf(ns + "-dyn").orElseThrow().getMetadata().getName())
                        .isEqualTo("dyn")))
        .containsOnly(
            Map.entry("GET persistentvolumes", 1L), Map.entry("GET persistentvolumeclaims", 1L));
  }
}
