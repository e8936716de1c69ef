package io.jfscsi.controller.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeStatus;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.jfscsi.Failure;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class VolumeObjectsTest {

  static final String DRIVER = "csi.juicefs.com";

  static PersistentVolumeClaim claim(Map<String, String> annotations, String volumeName) {
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withName("data")
        .withNamespace("team-a")
        .withUid("0b5f3c1e-1111-2222-3333-444455556666")
        .withResourceVersion("42")
        .withAnnotations(annotations)
        .endMetadata()
        .withNewSpec()
        .withAccessModes("ReadWriteMany")
        .withStorageClassName("jfs")
        .withVolumeName(volumeName)
        .withNewResources()
        .addToRequests("storage", new Quantity("10Gi"))
        .endResources()
        .endSpec()
        .build();
  }

  static StorageClass storageClass(String reclaim) {
    return new StorageClassBuilder()
        .withNewMetadata()
        .withName("jfs")
        .endMetadata()
        .withProvisioner(DRIVER)
        .withReclaimPolicy(reclaim)
        .withMountOptions("cache-size=100", "subdir-tag=${.pvc.name}")
        .withParameters(
            Map.of(
                "csi.storage.k8s.io/provisioner-secret-name", "${pvc.name}-secret",
                "csi.storage.k8s.io/provisioner-secret-namespace", "${pvc.namespace}",
                "csi.storage.k8s.io/node-publish-secret-name", "jfs-secret",
                "csi.storage.k8s.io/node-publish-secret-namespace", "kube-system",
                "juicefs/mount-delete-delay", "1m",
                "pathPattern", "${.pvc.namespace}-${.pvc.name}"))
        .build();
  }

  @Test
  void aClaimIsPendingForUsWhileUnboundAndAnnotatedWithOurName() {
    assertThat(
            VolumeObjects.pendingFor(
                claim(Map.of(VolumeObjects.STORAGE_PROVISIONER, DRIVER), null), DRIVER))
        .isTrue();
    assertThat(
            VolumeObjects.pendingFor(
                claim(Map.of(VolumeObjects.BETA_STORAGE_PROVISIONER, DRIVER), ""), DRIVER))
        .isTrue();
    assertThat(
            VolumeObjects.pendingFor(
                claim(Map.of(VolumeObjects.STORAGE_PROVISIONER, DRIVER), "pvc-bound"), DRIVER))
        .isFalse();
    assertThat(
            VolumeObjects.pendingFor(
                claim(Map.of(VolumeObjects.STORAGE_PROVISIONER, "ebs.csi.aws.com"), null), DRIVER))
        .isFalse();
    assertThat(VolumeObjects.pendingFor(claim(Map.of(), null), DRIVER)).isFalse();
  }

  @Test
  void secretReferencesAreResolvedAndHalfAReferenceIsRefused() {
    PersistentVolumeClaim pvc = claim(Map.of(), null);
    Map<String, String> p = storageClass("Delete").getParameters();
    assertThat(VolumeObjects.secretRef(p, "provisioner", pvc, "pvc-x"))
        .contains(new VolumeObjects.SecretRef("data-secret", "team-a"));
    assertThat(VolumeObjects.secretRef(p, "node-publish", pvc, "pvc-x"))
        .contains(new VolumeObjects.SecretRef("jfs-secret", "kube-system"));
    assertThat(VolumeObjects.secretRef(p, "controller-expand", pvc, "pvc-x")).isEmpty();
    assertThatThrownBy(
            () ->
                VolumeObjects.secretRef(
                    Map.of("csi.storage.k8s.io/provisioner-secret-name", "s"),
                    "provisioner",
                    pvc,
                    "pvc-x"))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("csi.storage.k8s.io/provisioner-secret-namespace");
  }

  @Test
  void volumeParametersDropTheCosOwnKeys() {
    assertThat(VolumeObjects.volumeParameters(storageClass("Delete").getParameters()))
        .containsOnlyKeys("juicefs/mount-delete-delay", "pathPattern");
  }

  @Test
  void thePvIsWhatExternalProvisionerWouldWrite() {
    PersistentVolumeClaim pvc = claim(Map.of(VolumeObjects.STORAGE_PROVISIONER, DRIVER), null);
    Map<String, String> attributes =
        Map.of(
            "juicefs/mount-delete-delay",
            "1m",
            "subPath",
            "team-a-data",
            "capacity",
            "10737418240");
    PersistentVolume pv =
        VolumeObjects.persistentVolume(
            DRIVER,
            pvc,
            storageClass("Retain"),
            attributes,
            Optional.of(new VolumeObjects.SecretRef("jfs-secret", "kube-system")));

    assertThat(pv.getMetadata().getName()).isEqualTo("pvc-0b5f3c1e-1111-2222-3333-444455556666");
    assertThat(pv.getMetadata().getAnnotations())
        .containsEntry("pv.kubernetes.io/provisioned-by", DRIVER);
    var csi = pv.getSpec().getCsi();
    assertThat(csi.getDriver()).isEqualTo(DRIVER);
    assertThat(csi.getVolumeHandle()).isEqualTo(pv.getMetadata().getName());
    assertThat(csi.getFsType()).isEqualTo("juicefs");
    assertThat(csi.getVolumeAttributes()).isEqualTo(attributes);
    assertThat(csi.getNodePublishSecretRef().getName()).isEqualTo("jfs-secret");
    assertThat(csi.getNodePublishSecretRef().getNamespace()).isEqualTo("kube-system");
    assertThat(pv.getSpec().getCapacity()).containsEntry("storage", new Quantity("10Gi"));
    assertThat(pv.getSpec().getAccessModes()).containsExactly("ReadWriteMany");
    assertThat(pv.getSpec().getClaimRef().getNamespace()).isEqualTo("team-a");
    assertThat(pv.getSpec().getClaimRef().getName()).isEqualTo("data");
    assertThat(pv.getSpec().getClaimRef().getUid())
        .isEqualTo("0b5f3c1e-1111-2222-3333-444455556666");
    assertThat(pv.getSpec().getStorageClassName()).isEqualTo("jfs");
    assertThat(pv.getSpec().getPersistentVolumeReclaimPolicy()).isEqualTo("Retain");
    assertThat(pv.getSpec().getMountOptions()).containsExactly("cache-size=100", "subdir-tag=data");
    assertThat(pv.getSpec().getVolumeMode()).isEqualTo("Filesystem");
    assertThat(VolumeObjects.ours(pv, DRIVER)).isTrue();
    assertThat(VolumeObjects.subPath(pv)).isEqualTo("team-a-data");
  }

  @Test
  void reclaimPolicyDefaultsToDeleteAndNoSecretMeansNoReference() {
    StorageClass sc = storageClass(null);
    sc.setMountOptions(null);
    PersistentVolume pv =
        VolumeObjects.persistentVolume(
            DRIVER, claim(Map.of(), null), sc, Map.of("subPath", "x"), Optional.empty());
    assertThat(pv.getSpec().getPersistentVolumeReclaimPolicy()).isEqualTo("Delete");
    assertThat(pv.getSpec().getCsi().getNodePublishSecretRef()).isNull();
    assertThat(pv.getSpec().getMountOptions()).isNullOrEmpty();
  }

  @Test
  void onlyOurReleasedDeleteVolumesAreDeleted() {
    PersistentVolume pv =
        VolumeObjects.persistentVolume(
            DRIVER,
            claim(Map.of(), null),
            storageClass("Delete"),
            Map.of("subPath", "x"),
            Optional.empty());
    assertThat(VolumeObjects.releasedForDelete(pv, DRIVER)).isFalse(); // no status yet
    pv.setStatus(new PersistentVolumeStatus(null, null, "Released", null));
    assertThat(VolumeObjects.releasedForDelete(pv, DRIVER)).isTrue();
    assertThat(VolumeObjects.releasedForDelete(pv, "other.csi")).isFalse();
    PersistentVolume retained =
        new PersistentVolumeBuilder(pv)
            .editSpec()
            .withPersistentVolumeReclaimPolicy("Retain")
            .endSpec()
            .build();
    assertThat(VolumeObjects.releasedForDelete(retained, DRIVER)).isFalse();
    PersistentVolume foreign =
        new PersistentVolumeBuilder(pv)
            .editMetadata()
            .withAnnotations(Map.of())
            .endMetadata()
            .build();
    assertThat(VolumeObjects.releasedForDelete(foreign, DRIVER)).isFalse();
  }

  @Test
  void capacityIsTheRequestInBytesAndBlockIsRefused() {
    PersistentVolumeClaim pvc = claim(Map.of(), null);
    assertThat(VolumeObjects.bytes(VolumeObjects.requested(pvc))).isEqualTo(10L << 30);
    assertThat(VolumeObjects.bytes(Optional.of(new Quantity("1.5k")))).isEqualTo(1500);
    assertThat(VolumeObjects.bytes(Optional.empty())).isZero();
    pvc.getSpec().setVolumeMode("Block");
    assertThatThrownBy(() -> VolumeObjects.checkClaim(pvc))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("Block");
  }

  @Test
  void settingsChooseBuiltinInAClusterAndNameTheLeaseLikeExternalProvisioner() {
    var c = ConfigFactory.load().getConfig("jfs-csi");
    assertThat(ProvisionerSettings.from(c, Map.of()).builtin()).isFalse();
    var withKubeconfig =
        ConfigFactory.parseMap(Map.of("kubernetes.kubeconfig", "/k")).withFallback(c);
    // A kubeconfig alone (a test, a driver run by hand) does not switch it on.
    assertThat(ProvisionerSettings.from(withKubeconfig, Map.of()).builtin()).isFalse();
    var builtin =
        ConfigFactory.parseMap(Map.of("controller.provisioner", "builtin"))
            .withFallback(withKubeconfig);
    ProvisionerSettings s = ProvisionerSettings.from(builtin, Map.of());
    assertThat(s.builtin()).isTrue();
    assertThat(s.leaseName()).isEqualTo("csi-juicefs-com");
    assertThat(s.leaseDuration()).isEqualTo(Duration.ofSeconds(15));
    var sidecar =
        ConfigFactory.parseMap(Map.of("controller.provisioner", "sidecar")).withFallback(builtin);
    assertThat(ProvisionerSettings.from(sidecar, Map.of()).builtin()).isFalse();
    var bad = ConfigFactory.parseMap(Map.of("controller.provisioner", "both")).withFallback(c);
    assertThatThrownBy(() -> ProvisionerSettings.from(bad, Map.of()))
        .hasMessageContaining("auto, builtin or sidecar");
    var badTimes =
        ConfigFactory.parseMap(Map.of("controller.leader-election.renew-deadline", "20s"))
            .withFallback(c);
    assertThatThrownBy(() -> ProvisionerSettings.from(badTimes, Map.of()))
        .hasMessageContaining("renew-deadline");
    assertThat(List.of(ProvisionerSettings.leaseName("Csi.Example.COM")))
        .containsExactly("csi-example-com");
  }
}
