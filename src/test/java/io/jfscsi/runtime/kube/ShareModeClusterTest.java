package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.MountInfo;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeletStandIn;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * STORAGE_CLASS_SHARE_MOUNT against the real API server, with the node plugin's manifest RBAC: the
 * two volumes of one StorageClass are served by ONE Mount Pod, named and labelled by the class (the
 * Go driver's {@code juicefs-<node>-<class>-<rand>}, {@code volume-id=<class>}), that references
 * the targets of both, each showing its own volume's directory; a restarted driver reads it back
 * with each target's volume; it goes when the last app pod of either volume does. A class whose
 * Secret names are templates keeps one Mount Pod per volume, as in the Go driver.
 */
class ShareModeClusterTest {
  @TempDir Path dir;
  PublishingNode node;
  String shared;
  String templated;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new PublishingNode(dir, "share").withNodeRbac(dir.resolve("node.kubeconfig"));
    node.driver.with("share-mount.storage-class", true);
    shared = "sc-" + node.namespace;
    templated = "sc-tpl-" + node.namespace;
    storageClass(shared, "jfs");
    storageClass(templated, "${pvc.name}-secret");
    node.startDriver().startKubelet();
  }

  private void storageClass(String name, String publishSecret) {
    node.api
        .storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withProvisioner(PublishingNode.DRIVER)
                .withParameters(
                    Map.of(
                        "csi.storage.k8s.io/node-publish-secret-name",
                        publishSecret,
                        "csi.storage.k8s.io/node-publish-secret-namespace",
                        node.namespace))
                .build())
        .create();
  }

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      try {
        node.close();
      } finally {
        node.api.storage().v1().storageClasses().withName(shared).delete();
        node.api.storage().v1().storageClasses().withName(templated).delete();
      }
    }
  }

  private String volumeOf(String claim, String storageClass) throws Exception {
    Files.createDirectories(node.driver.data.resolve(claim));
    Files.writeString(node.driver.data.resolve(claim).resolve("whose"), claim);
    return node.staticVolume(claim, Map.of("subPath", claim), List.of(), storageClass);
  }

  @Test
  void theVolumesOfOneStorageClassShareOneMountPodNamedAfterIt() throws Exception {
    String pvA = volumeOf("a", shared);
    String pvB = volumeOf("b", shared);
    Pod appA = node.appPod("app-a", "a");
    Pod appB = node.appPod("app-b", "b");
    Pod appB2 = node.appPod("app-b2", "b");
    node.awaitRunning("app-a");
    node.awaitRunning("app-b");
    node.awaitRunning("app-b2");
    Path targetA = node.target(appA, pvA);
    Path targetB = node.target(appB, pvB);
    Path targetB2 = node.target(appB2, pvB);

    Pod mountPod = node.onlyMountPod().orElseThrow(() -> new AssertionError(node.mountPods()));
    assertThat(mountPod.getMetadata().getName())
        .startsWith("juicefs-" + node.node + "-" + shared + "-");
    assertThat(mountPod.getMetadata().getLabels())
        .containsEntry(MountPodNames.VOLUME_ID_LABEL, shared);
    assertThat(mountPod.getMetadata().getAnnotations())
        .containsEntry(MountPodNames.UNIQUE_ID, shared);
    assertThat(PublishingNode.references(mountPod))
        .containsExactlyInAnyOrder(targetA.toString(), targetB.toString(), targetB2.toString());
    // The record's own volume is the first published; the other's targets say which they show.
    Map<String, TargetVolume> volumes =
        PodReferences.sharedTargets(PodReferences.annotations(mountPod));
    String first = volumes.containsKey(targetA.toString()) ? pvB : pvA;
    assertThat(volumes.values()).allSatisfy(v -> assertThat(v.volumeId()).isNotEqualTo(first));
    assertThat(Files.readString(targetA.resolve("whose"))).isEqualTo("a");
    assertThat(Files.readString(targetB.resolve("whose"))).isEqualTo("b");
    assertThat(Files.readString(targetB2.resolve("whose"))).isEqualTo("b");

    // A restarted driver reads the shared client back from its pod, each target with its volume.
    node.driver.stopDriver();
    node.driver.start();
    node.api.pods().inNamespace(node.namespace).withName("app-a").delete();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(
                        PublishingNode.references(node.mountPod(mountPod.getMetadata().getName())))
                    .containsExactlyInAnyOrder(targetB.toString(), targetB2.toString()));
    assertThat(Files.readString(targetB.resolve("whose"))).isEqualTo("b");
    node.api.pods().inNamespace(node.namespace).withName("app-b").delete();
    node.api.pods().inNamespace(node.namespace).withName("app-b2").delete();
    await().atMost(Duration.ofSeconds(60)).until(() -> node.mountPods().isEmpty());
    assertThat(node.forbiddenCalls()).isEmpty();
  }

  @Test
  void aClassWhoseSecretNamesAreTemplatesKeepsAMountPodPerVolume() throws Exception {
    String pvA = volumeOf("ta", templated);
    String pvB = volumeOf("tb", templated);
    node.appPod("app-ta", "ta");
    node.appPod("app-tb", "tb");
    node.awaitRunning("app-ta");
    node.awaitRunning("app-tb");
    assertThat(
            Set.copyOf(
                node.mountPods().stream()
                    .map(p -> p.getMetadata().getLabels().get(MountPodNames.VOLUME_ID_LABEL))
                    .toList()))
        .isEqualTo(Set.of(pvA, pvB));
    assertThat(node.forbiddenCalls()).isEmpty();
  }

  /**
   * A switch from the Go driver in STORAGE_CLASS_SHARE_MOUNT: its Mount Pod of the class mounts the
   * whole file system and binds each target to {@code <mount point>/<subPath>}; it records the
   * targets but not their volumes. Adopted, each target keeps its own volume (from kubelet's
   * vol_data.json and the bind's root), so kubelet's unpublish, which names the volume, releases it
   * instead of being refused with NOT_FOUND, and the pod ends at the last release.
   */
  @Test
  void aGoDriverMountPodOfTheClassIsAdoptedWithTheVolumeOfEachTarget() throws Exception {
    node.driver.stopDriver();
    String pvA = volumeOf("a", shared);
    String pvB = volumeOf("b", shared);
    Pod appA = node.appPod("app-a", "a");
    Pod appB = node.appPod("app-b", "b");
    Path targetA = node.target(appA, pvA);
    Path targetB = node.target(appB, pvB);

    String secret =
        GoMountPodAdoptionClusterTest.goSecret(node, shared, "local://" + node.driver.data);
    Path mountRoot = Files.createDirectories(node.driver.dir.resolve("mnt"));
    Path mp = mountRoot.resolve(shared + "-" + GoMountPodAdoptionClusterTest.rand6());
    String goPod =
        GoMountPodAdoptionClusterTest.goMountPod(
            node, shared, secret, mountRoot, mp, List.of(targetA, targetB));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                MountPodWatch.runningAndReady(node.mountPod(goPod))
                    && MountInfo.topMostAt(MountInfo.self(), mp).isPresent());
    for (var bound : Map.of(targetA, List.of(pvA, "a"), targetB, List.of(pvB, "b")).entrySet()) {
      Path target = bound.getKey();
      Files.createDirectories(target);
      KubeletStandIn.writeVolData(
          target, PublishingNode.DRIVER, bound.getValue().get(0), bound.getValue().get(0));
      GoMountPodAdoptionClusterTest.run(
          "mount", "--bind", mp.resolve(bound.getValue().get(1)).toString(), target.toString());
    }

    node.driver.start();
    node.awaitRunning("app-a");
    node.awaitRunning("app-b");
    assertThat(node.mountPods()).extracting(p -> p.getMetadata().getName()).containsExactly(goPod);
    assertThat(Files.readString(targetA.resolve("whose"))).isEqualTo("a");
    assertThat(Files.readString(targetB.resolve("whose"))).isEqualTo("b");

    node.api.pods().inNamespace(node.namespace).withName("app-a").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(PublishingNode.references(node.mountPod(goPod)))
                    .containsExactly(targetB.toString()));
    assertThat(Files.readString(targetB.resolve("whose"))).isEqualTo("b");
    node.api.pods().inNamespace(node.namespace).withName("app-b").delete();
    await().atMost(Duration.ofSeconds(60)).until(() -> node.mountPods().isEmpty());
  }
}
