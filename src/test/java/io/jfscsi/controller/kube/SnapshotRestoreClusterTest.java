package io.jfscsi.controller.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import csi.v1.CreateSnapshotRequest;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.ManifestRbac;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A claim restored from a VolumeSnapshot by the built-in provisioner, against the real
 * kube-apiserver and kube-controller-manager with the snapshot CRDs of deploy/crds/snapshot
 * installed. No snapshot-controller or csi-snapshotter runs here: {@link
 * #snapshotControllerStandIn} takes the snapshot through the driver's CSI CreateSnapshot, as
 * csi-snapshotter would, and writes the VolumeSnapshotContent and the VolumeSnapshot with their
 * statuses the way those two write them. The driver authenticates with the rules of
 * deploy/base/rbac-controller.yaml.
 */
class SnapshotRestoreClusterTest {

  @TempDir static Path dir;

  static KubeCluster cluster;
  static KubernetesClient kube;
  static String ns;
  static String driverName;
  static DriverFixture driver;
  static String storageClass;

  @BeforeAll
  static void start() throws Exception {
    HostRequirements.requireFuse();
    cluster = KubeCluster.shared();
    kube = cluster.client();
    installSnapshotCrds();
    ns = cluster.newNamespace("snapshots");
    driverName = ns + ".csi.juicefs.com";
    Path kubeconfig =
        ManifestRbac.bind(
            cluster,
            ns,
            Path.of("deploy/base/rbac-controller.yaml"),
            dir.resolve("controller.kubeconfig"));
    Path home = Files.createDirectories(dir.resolve("a"));
    driver =
        new DriverFixture(home)
            .with("roles", List.of("controller"))
            .with("driver-name", driverName)
            .with("controller.provisioner", "builtin")
            .with("kubernetes.kubeconfig", kubeconfig.toString())
            .with("kubernetes.namespace", ns)
            .with("controller.leader-election.lease-duration", "4s")
            .with("controller.leader-election.renew-deadline", "3s")
            .with("controller.leader-election.retry-period", "500ms")
            .with("controller.retry-backoff.min", "500ms")
            .with("controller.retry-backoff.max", "2s")
            .start();
    kube.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("fs")
                .endMetadata()
                .withStringData(driver.secrets())
                .build())
        .create();
    storageClass = ns + "-snap";
    kube.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(storageClass)
                .addToLabels("jfs-csi.io/test-ns", ns)
                .endMetadata()
                .withProvisioner(driverName)
                .withReclaimPolicy("Delete")
                .withVolumeBindingMode("Immediate")
                .withParameters(
                    Map.of(
                        "csi.storage.k8s.io/provisioner-secret-name",
                        "fs",
                        "csi.storage.k8s.io/provisioner-secret-namespace",
                        ns))
                .build())
        .create();
  }

  @AfterAll
  static void stop() throws Exception {
    if (driver != null) {
      driver.close();
    }
    if (kube != null && ns != null) {
      kube.storage().v1().storageClasses().withLabel("jfs-csi.io/test-ns", ns).delete();
      kube.genericKubernetesResources(ClaimSnapshots.CONTENTS)
          .withLabel("jfs-csi.io/test-ns", ns)
          .delete();
      ManifestRbac.deleteClusterWide(kube, ns);
    }
  }

  /** The CRDs as deploy/crds/snapshot keeps them; the control plane is shared, so once. */
  static void installSnapshotCrds() throws Exception {
    Path crds = cluster.projectDirectory().resolve("deploy/crds/snapshot");
    try (DirectoryStream<Path> files =
        Files.newDirectoryStream(crds, "snapshot.storage.k8s.io_*")) {
      for (Path file : files) {
        try (InputStream in = Files.newInputStream(file)) {
          for (HasMetadata crd : kube.load(in).items()) {
            try {
              kube.resource(crd).create();
            } catch (KubernetesClientException e) {
              if (e.getCode() != 409) {
                throw e;
              }
            }
          }
        }
      }
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () ->
                kube.genericKubernetesResources(ClaimSnapshots.SNAPSHOTS)
                            .inNamespace("default")
                            .list()
                        != null
                    && kube.genericKubernetesResources(ClaimSnapshots.CONTENTS).list() != null);
  }

  static PersistentVolumeClaim claim(String name, Map<String, String> dataSource) {
    return ProvisionedClaims.claim(kube, ns, name, storageClass, Map.of(), Map.of(), dataSource);
  }

  static PersistentVolume awaitBound(PersistentVolumeClaim pvc) {
    return ProvisionedClaims.awaitBound(kube, ns, pvc);
  }

  static List<Event> events(String involvedName) {
    return ProvisionedClaims.events(kube, ns, involvedName);
  }

  static Map<String, String> snapshotSource(String name) {
    return Map.of("apiGroup", "snapshot.storage.k8s.io", "kind", "VolumeSnapshot", "name", name);
  }

  /**
   * What csi-snapshotter and snapshot-controller would do for {@code snapshot}, which names the
   * claim bound to {@code volume}: CreateSnapshot over CSI, then the VolumeSnapshotContent and the
   * VolumeSnapshot's statuses. A stand-in: neither controller can run here.
   */
  static void snapshotControllerStandIn(GenericKubernetesResource snapshot, String volume) {
    String uid = snapshot.getMetadata().getUid();
    var made =
        driver
            .csi()
            .controller()
            .createSnapshot(
                CreateSnapshotRequest.newBuilder()
                    .setName("snapshot-" + uid)
                    .setSourceVolumeId(volume)
                    .putAllSecrets(driver.secrets())
                    .build())
            .getSnapshot();
    String contentName = "snapcontent-" + uid;
    GenericKubernetesResource content = new GenericKubernetesResource();
    content.setApiVersion("snapshot.storage.k8s.io/v1");
    content.setKind("VolumeSnapshotContent");
    content.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
            .withName(contentName)
            .addToLabels("jfs-csi.io/test-ns", ns)
            .build());
    content.setAdditionalProperty(
        "spec",
        Map.of(
            "driver",
            driverName,
            "deletionPolicy",
            "Delete",
            "source",
            Map.of("volumeHandle", volume),
            "volumeSnapshotRef",
            Map.of(
                "kind",
                "VolumeSnapshot",
                "name",
                snapshot.getMetadata().getName(),
                "namespace",
                ns,
                "uid",
                uid)));
    var contents = kube.genericKubernetesResources(ClaimSnapshots.CONTENTS);
    GenericKubernetesResource created = contents.resource(content).create();
    created.setAdditionalProperty(
        "status",
        Map.of(
            "snapshotHandle",
            made.getSnapshotId(),
            "readyToUse",
            true,
            "restoreSize",
            made.getSizeBytes(),
            "creationTime",
            made.getCreationTime().getSeconds() * 1_000_000_000L));
    contents.resource(created).updateStatus();
    GenericKubernetesResource now =
        kube.genericKubernetesResources(ClaimSnapshots.SNAPSHOTS)
            .inNamespace(ns)
            .withName(snapshot.getMetadata().getName())
            .get();
    Map<String, Object> status = new LinkedHashMap<>();
    status.put("boundVolumeSnapshotContentName", contentName);
    status.put("readyToUse", true);
    status.put("restoreSize", Long.toString(made.getSizeBytes()));
    status.put(
        "creationTime", Instant.ofEpochSecond(made.getCreationTime().getSeconds()).toString());
    now.setAdditionalProperty("status", status);
    kube.genericKubernetesResources(ClaimSnapshots.SNAPSHOTS)
        .inNamespace(ns)
        .resource(now)
        .updateStatus();
  }

  static GenericKubernetesResource volumeSnapshot(String name, String claim) {
    GenericKubernetesResource snapshot = new GenericKubernetesResource();
    snapshot.setApiVersion("snapshot.storage.k8s.io/v1");
    snapshot.setKind("VolumeSnapshot");
    snapshot.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).build());
    snapshot.setAdditionalProperty(
        "spec", Map.of("source", Map.of("persistentVolumeClaimName", claim)));
    return kube.genericKubernetesResources(ClaimSnapshots.SNAPSHOTS)
        .inNamespace(ns)
        .resource(snapshot)
        .create();
  }

  @Test
  void aClaimFromAVolumeSnapshotWaitsUntilItIsReadyAndThenHoldsTheSnapshotsFiles()
      throws Exception {
    PersistentVolume source = awaitBound(claim("source", null));
    String volume = source.getMetadata().getName();
    Files.writeString(driver.data.resolve(volume).resolve("before.txt"), "before the snapshot");

    GenericKubernetesResource snapshot = volumeSnapshot("nightly", "source");
    PersistentVolumeClaim restore = claim("restored", snapshotSource("nightly"));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(events("restored"))
                    .filteredOn(e -> "ProvisioningFailed".equals(e.getReason()))
                    .extracting(Event::getMessage)
                    .anyMatch(m -> m.contains("nightly") && m.contains("not ready")));
    assertThat(kube.persistentVolumes().withName("pvc-" + restore.getMetadata().getUid()).get())
        .as("no volume while the snapshot is not ready")
        .isNull();

    snapshotControllerStandIn(snapshot, volume);
    Files.writeString(driver.data.resolve(volume).resolve("after.txt"), "after the snapshot");

    PersistentVolume restored = awaitBound(restore);
    Path copy =
        driver.data.resolve(restored.getSpec().getCsi().getVolumeAttributes().get("subPath"));
    assertThat(copy.resolve("before.txt")).hasContent("before the snapshot");
    assertThat(copy.resolve("after.txt")).doesNotExist();
    assertThat(driver.data.resolve(".snapshots").resolve(volume)).isDirectory();
  }

  @Test
  void aClaimCloningAnotherClaimIsRefusedWithAnEvent() {
    claim("clone", Map.of("apiGroup", "", "kind", "PersistentVolumeClaim", "name", "source"));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(events("clone"))
                    .filteredOn(e -> "ProvisioningFailed".equals(e.getReason()))
                    .extracting(Event::getMessage)
                    .anyMatch(m -> m.contains("PersistentVolumeClaim is not supported")));
  }
}
