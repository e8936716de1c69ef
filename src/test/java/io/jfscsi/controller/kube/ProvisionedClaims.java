package io.jfscsi.controller.kube;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Claims for the built-in provisioner's cluster tests, and what becomes of them: a 1 GiB RWX claim
 * of a StorageClass (from a data source when given), its PV once the provisioner has bound it, and
 * the Events it got.
 */
final class ProvisionedClaims {
  private ProvisionedClaims() {}

  /**
   * @param dataSource apiGroup, kind and name of the claim's data source; null: none
   */
  static PersistentVolumeClaim claim(
      KubernetesClient kube,
      String namespace,
      String name,
      String storageClass,
      Map<String, String> labels,
      Map<String, String> annotations,
      Map<String, String> dataSource) {
    var spec =
        new PersistentVolumeClaimBuilder()
            .withNewMetadata()
            .withName(name)
            .withLabels(labels)
            .withAnnotations(annotations)
            .endMetadata()
            .withNewSpec()
            .withAccessModes("ReadWriteMany")
            .withStorageClassName(storageClass)
            .withNewResources()
            .addToRequests("storage", new Quantity("1Gi"))
            .endResources();
    if (dataSource != null) {
      spec =
          spec.withNewDataSource()
              .withApiGroup(dataSource.get("apiGroup"))
              .withKind(dataSource.get("kind"))
              .withName(dataSource.get("name"))
              .endDataSource();
    }
    return kube.persistentVolumeClaims()
        .inNamespace(namespace)
        .resource(spec.endSpec().build())
        .create();
  }

  /** The PV the provisioner made for {@code pvc} ({@code pvc-<uid>}), once the claim is bound. */
  static PersistentVolume awaitBound(
      KubernetesClient kube, String namespace, PersistentVolumeClaim pvc) {
    String pvName = "pvc-" + pvc.getMetadata().getUid();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              PersistentVolumeClaim now =
                  kube.persistentVolumeClaims()
                      .inNamespace(namespace)
                      .withName(pvc.getMetadata().getName())
                      .get();
              return now.getStatus() != null
                  && "Bound".equals(now.getStatus().getPhase())
                  && pvName.equals(now.getSpec().getVolumeName());
            });
    return kube.persistentVolumes().withName(pvName).get();
  }

  static List<Event> events(KubernetesClient kube, String namespace, String involvedName) {
    return kube.v1().events().inNamespace(namespace).list().getItems().stream()
        .filter(e -> involvedName.equals(e.getInvolvedObject().getName()))
        .toList();
  }
}
