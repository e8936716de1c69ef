package io.jfscsi.csi;

import static io.jfscsi.csi.ControllerConformanceTest.RWX;
import static io.jfscsi.csi.ControllerConformanceTest.assertCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import csi.v1.NodeGetCapabilitiesRequest;
import csi.v1.NodeGetInfoRequest;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeServiceCapability;
import csi.v1.NodeStageVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.VolumeCapability;
import csi.v1.VolumeUsage;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Node service over the real Unix socket with real bind mounts and a real FUSE client, checked
 * against the CSI specification v1.12.0.
 */
class NodeConformanceTest {

  @TempDir Path dir;

  DriverFixture driver;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir).start();
    Files.createDirectories(driver.data.resolve("pvc-1"));
  }

  @AfterEach
  void stop() throws Exception {
    if (driver != null) {
      driver.close();
    }
  }

  NodePublishVolumeRequest.Builder publish(String volumeId, Path target) {
    return NodePublishVolumeRequest.newBuilder()
        .setVolumeId(volumeId)
        .setTargetPath(target.toString())
        .setVolumeCapability(RWX)
        .putAllSecrets(driver.secrets())
        .putVolumeContext("subPath", volumeId);
  }

  void unpublish(String volumeId, Path target) {
    driver
        .csi()
        .node()
        .nodeUnpublishVolume(
            NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId(volumeId)
                .setTargetPath(target.toString())
                .build());
  }

  @Test
  void nodeInfoAndCapabilities() {
    assertThat(driver.csi().node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()).getNodeId())
        .isEqualTo("test-node");
    assertThat(
            driver
                .csi()
                .node()
                .nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList())
        .extracting(c -> c.getRpc().getType())
        .containsExactlyInAnyOrder(
            NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
            NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
            NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER);
  }

  @Test
  void twoPodsShareOneClientAndSeeEachOthersWrites() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    Path b = driver.target("pod-b", "pvc-1");
    driver.csi().node().nodePublishVolume(publish("pvc-1", a).build());
    driver.csi().node().nodePublishVolume(publish("pvc-1", b).build());

    Files.writeString(a.resolve("hello.txt"), "written through pod a");
    assertThat(b.resolve("hello.txt")).hasContent("written through pod a");
    assertThat(driver.data.resolve("pvc-1").resolve("hello.txt")).exists();
    assertThat(driver.clientPids()).hasSize(1);

    unpublish("pvc-1", a);
    assertThat(a).doesNotExist();
    assertThat(b.resolve("hello.txt")).exists();
    unpublish("pvc-1", b);
    assertThat(b).doesNotExist();
    driver.awaitNoClients();
    assertThat(driver.data.resolve("pvc-1").resolve("hello.txt")).exists();
  }

  @Test
  void aStaticVolumeWithoutSubPathPublishesTheWholeFileSystem() throws Exception {
    Files.writeString(driver.data.resolve("existing-data.txt"), "data that was there before");
    Path a = driver.target("pod-a", "static-pv");
    driver.csi().node().nodePublishVolume(publish("static-pv", a).clearVolumeContext().build());
    assertThat(a.resolve("existing-data.txt")).hasContent("data that was there before");
    assertThat(a.resolve("pvc-1")).isDirectory();
    unpublish("static-pv", a);
    driver.awaitNoClients();
  }

  @Test
  void publishAndUnpublishAreIdempotent() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    driver.csi().node().nodePublishVolume(publish("pvc-1", a).build());
    driver.csi().node().nodePublishVolume(publish("pvc-1", a).build());
    assertThat(driver.mountsUnder()).filteredOn(m -> m.equals(a.toString())).hasSize(1);
    unpublish("pvc-1", a);
    unpublish("pvc-1", a);
    unpublish("pvc-unknown", driver.target("pod-z", "pvc-unknown"));
    driver.awaitNoClients();
  }

  @Test
  void readOnlyPublishRefusesWritesAndAConflictingRepeatIsAlreadyExists() throws Exception {
    Path ro = driver.target("pod-ro", "pvc-1");
    driver.csi().node().nodePublishVolume(publish("pvc-1", ro).setReadonly(true).build());
    assertThatThrownBy(() -> Files.writeString(ro.resolve("x"), "x"))
        .isInstanceOf(FileSystemException.class)
        .satisfies(
            e ->
                assertThat(e)
                    .isNotInstanceOf(AccessDeniedException.class)
                    .hasMessageContaining("Read-only"));
    assertCode(
        () -> driver.csi().node().nodePublishVolume(publish("pvc-1", ro).build()),
        Status.Code.ALREADY_EXISTS,
        "read-only");
    unpublish("pvc-1", ro);
  }

  @Test
  void theSameTargetForAnotherVolumeIsAlreadyExists() throws Exception {
    Files.createDirectories(driver.data.resolve("pvc-2"));
    Path a = driver.target("pod-a", "pvc-1");
    driver.csi().node().nodePublishVolume(publish("pvc-1", a).build());
    assertCode(
        () -> driver.csi().node().nodePublishVolume(publish("pvc-2", a).build()),
        Status.Code.ALREADY_EXISTS,
        "pvc-1");
    unpublish("pvc-1", a);
  }

  @Test
  void unpublishingAnotherVolumesTargetIsNotFoundAndLeavesItMounted() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    driver.csi().node().nodePublishVolume(publish("pvc-1", a).build());
    assertCode(() -> unpublish("pvc-2", a), Status.Code.NOT_FOUND, "pvc-1");
    assertThat(driver.mountsUnder()).contains(a.toString());
    unpublish("pvc-1", a);
  }

  @Test
  void targetPathsOutsideTheKubeletRootOrNotNormalizedAreRefused() throws Exception {
    Path outside = Files.createDirectories(dir.resolve("elsewhere")).resolve("mount");
    assertCode(
        () -> driver.csi().node().nodePublishVolume(publish("pvc-1", outside).build()),
        Status.Code.INVALID_ARGUMENT,
        "outside the kubelet root");
    Path inside = driver.target("pod-a", "pvc-1");
    for (String bad :
        new String[] {
          "relative/mount", inside + "/../mount", inside + "/", inside.getParent() + "/./mount"
        }) {
      assertCode(
          () ->
              driver
                  .csi()
                  .node()
                  .nodePublishVolume(publish("pvc-1", inside).setTargetPath(bad).build()),
          Status.Code.INVALID_ARGUMENT,
          "target_path");
    }
    // A symbolic link inside the kubelet root that points out of it.
    Path link = driver.kubelet.resolve("pods").resolve("escape");
    Files.createSymbolicLink(link, Files.createDirectories(dir.resolve("outside-target")));
    assertCode(
        () ->
            driver.csi().node().nodePublishVolume(publish("pvc-1", link.resolve("mount")).build()),
        Status.Code.INVALID_ARGUMENT,
        "symbolic link");
    // The target itself a symbolic link (to a directory inside the root), or a file.
    Path target = driver.target("pod-b", "pvc-1");
    Files.createSymbolicLink(target, Files.createDirectories(target.resolveSibling("real")));
    assertCode(
        () -> driver.csi().node().nodePublishVolume(publish("pvc-1", target).build()),
        Status.Code.INVALID_ARGUMENT,
        "is a symbolic link");
    Path file = driver.target("pod-c", "pvc-1");
    Files.writeString(file, "not a directory");
    assertCode(
        () -> driver.csi().node().nodePublishVolume(publish("pvc-1", file).build()),
        Status.Code.INVALID_ARGUMENT,
        "exists and is not a directory");
    assertThat(driver.mountsUnder()).isEmpty();
    assertThat(driver.clientPids()).isEmpty();
  }

  @Test
  void badRequestsAreRefusedBeforeAnythingIsMounted() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    var node = driver.csi().node();
    assertCode(
        () -> node.nodePublishVolume(publish("pvc-1", a).clearVolumeCapability().build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_capability");
    assertCode(
        () ->
            node.nodePublishVolume(
                publish("pvc-1", a)
                    .setVolumeCapability(
                        VolumeCapability.newBuilder()
                            .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                            .setAccessMode(RWX.getAccessMode()))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "block");
    assertCode(
        () -> node.nodePublishVolume(publish("", a).build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_id");
    assertCode(
        () -> node.nodePublishVolume(publish("a/b", a).build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_id");
    assertCode(
        () ->
            node.nodePublishVolume(
                publish("pvc-1", a)
                    .setVolumeCapability(
                        RWX.toBuilder()
                            .setMount(
                                VolumeCapability.MountVolume.newBuilder()
                                    .addMountFlags("no-such-option=1")))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "no-such-option");
    assertCode(
        () ->
            node.nodePublishVolume(
                publish("pvc-1", a)
                    .setVolumeCapability(
                        RWX.toBuilder()
                            .setMount(
                                VolumeCapability.MountVolume.newBuilder()
                                    .addMountFlags("writeback")))
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "writeback");
    assertThat(a).doesNotExist();
    assertThat(driver.mountsUnder()).isEmpty();
    assertThat(driver.clientPids()).isEmpty();
  }

  @Test
  void aMissingSecretKeyIsNamedAndNoSecretValueIsEverShown() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    Map<String, String> secrets = new HashMap<>(driver.secrets());
    secrets.remove("name");
    secrets.put("access-key", "AK-VERY-SECRET");
    secrets.put("secret-key", "SK-VERY-SECRET");
    assertThatThrownBy(
            () ->
                driver
                    .csi()
                    .node()
                    .nodePublishVolume(
                        publish("pvc-1", a).clearSecrets().putAllSecrets(secrets).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription())
                  .contains("'name'")
                  .doesNotContain("AK-VERY-SECRET")
                  .doesNotContain("SK-VERY-SECRET");
            });
  }

  @Test
  void aVolumeWhoseFileSystemIsMissingFailsWithoutLeavingAnything() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    assertThatThrownBy(
            () ->
                driver
                    .csi()
                    .node()
                    .nodePublishVolume(
                        publish("pvc-1", a)
                            .putSecrets("metaurl", "local://" + dir.resolve("no-such-dir"))
                            .build()))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(a).doesNotExist();
    assertThat(driver.mountsUnder()).isEmpty();
    assertThat(driver.clientPids()).isEmpty();
  }

  @Test
  void volumeStatsReportBytesAndInodesAndAnUnknownPathIsNotFound() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    driver.csi().node().nodePublishVolume(publish("pvc-1", a).build());
    var stats =
        driver
            .csi()
            .node()
            .nodeGetVolumeStats(
                NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId("pvc-1")
                    .setVolumePath(a.toString())
                    .build());
    assertThat(stats.getUsageList())
        .extracting(VolumeUsage::getUnit)
        .containsExactly(VolumeUsage.Unit.BYTES, VolumeUsage.Unit.INODES);
    assertThat(stats.getUsage(0).getTotal()).isPositive();
    assertThat(stats.getVolumeCondition().getAbnormal()).isFalse();
    assertCode(
        () ->
            driver
                .csi()
                .node()
                .nodeGetVolumeStats(
                    NodeGetVolumeStatsRequest.newBuilder()
                        .setVolumeId("pvc-1")
                        .setVolumePath(dir.resolve("nope").toString())
                        .build()),
        Status.Code.NOT_FOUND);
    unpublish("pvc-1", a);
  }

  @Test
  void volumeStatsOfTheEmbeddedDefaultReportTheVolumesCapacityAsItsTotal() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    long capacity = 3L << 30;
    driver
        .csi()
        .node()
        .nodePublishVolume(
            publish("pvc-1", a).putVolumeContext("capacity", Long.toString(capacity)).build());
    var usage =
        driver
            .csi()
            .node()
            .nodeGetVolumeStats(
                NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId("pvc-1")
                    .setVolumePath(a.toString())
                    .build())
            .getUsage(0);
    assertThat(usage.getUnit()).isEqualTo(VolumeUsage.Unit.BYTES);
    assertThat(usage.getTotal()).isEqualTo(capacity);
    assertThat(usage.getAvailable()).isBetween(0L, capacity);
    assertThat(usage.getUsed()).isEqualTo(capacity - usage.getAvailable());
    unpublish("pvc-1", a);
  }

  @Test
  void staleMountsAreReportedAbnormalUntilTheClientIsBack() throws Exception {
    driver.close();
    driver =
        new DriverFixture(dir)
            .with("client.restart-backoff.min", "1h")
            .with("client.restart-backoff.max", "1h")
            .start();
    Path a = driver.target("pod-a", "pvc-1");
    driver.csi().node().nodePublishVolume(publish("pvc-1", a).build());
    long pid = driver.clientPids().getFirst();
    new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                driver
                    .csi()
                    .node()
                    .nodeGetVolumeStats(
                        NodeGetVolumeStatsRequest.newBuilder()
                            .setVolumeId("pvc-1")
                            .setVolumePath(a.toString())
                            .build())
                    .getVolumeCondition()
                    .getAbnormal());
    unpublish("pvc-1", a);
    driver.awaitNoClients();
  }

  @Test
  void stagingIsNotOffered() {
    assertCode(
        () -> driver.csi().node().nodeStageVolume(NodeStageVolumeRequest.getDefaultInstance()),
        Status.Code.UNIMPLEMENTED);
  }
}
