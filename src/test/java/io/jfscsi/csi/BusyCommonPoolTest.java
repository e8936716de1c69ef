package io.jfscsi.csi;

import static org.assertj.core.api.Assertions.assertThat;

import csi.v1.CapacityRange;
import csi.v1.CreateVolumeRequest;
import csi.v1.DeleteVolumeRequest;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every CSI answer is sent without the JVM's common pool. Pekko's javadsl ask answers through a
 * future whose non-async stages run on {@code ForkJoinPool.commonPool()}, a pool of one worker on
 * two cores that any library in the process may block; the driver's answers must not wait for it.
 * Here every common-pool worker is blocked while the calls kubelet and the provisioner make are
 * served; with the common pool in their path they all miss their deadline.
 */
class BusyCommonPoolTest {
  @TempDir Path dir;

  private DriverFixture driver;
  private final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void stop() throws Exception {
    release.countDown();
    if (driver != null) {
      driver.close();
    }
  }

  @Test
  void callsAreAnsweredWhileEveryCommonPoolWorkerIsBlocked() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir).start();
    Path first = driver.target("pod-1", "pvc-a");
    Path second = driver.target("pod-2", "pvc-a");
    driver.publish("pvc-a", first); // the client is up: what follows only binds

    blockTheCommonPool();

    var node = driver.csi().node().withDeadlineAfter(10, TimeUnit.SECONDS);
    assertThat(
            driver
                .csi()
                .identity()
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .probe(ProbeRequest.getDefaultInstance())
                .getReady()
                .getValue())
        .isTrue();
    node.nodePublishVolume(driver.publishRequest("pvc-a", second).build());
    assertThat(
            node.nodeGetVolumeStats(
                    NodeGetVolumeStatsRequest.newBuilder()
                        .setVolumeId("pvc-a")
                        .setVolumePath(second.toString())
                        .build())
                .getVolumeCondition()
                .getAbnormal())
        .isFalse();
    node.nodeUnpublishVolume(
        NodeUnpublishVolumeRequest.newBuilder()
            .setVolumeId("pvc-a")
            .setTargetPath(second.toString())
            .build());
    node.nodeUnpublishVolume(
        NodeUnpublishVolumeRequest.newBuilder()
            .setVolumeId("pvc-a")
            .setTargetPath(first.toString())
            .build());
    assertThat(driver.mountsUnder()).doesNotContain(first.toString(), second.toString());

    var controller = driver.csi().controller().withDeadlineAfter(10, TimeUnit.SECONDS);
    String id =
        controller
            .createVolume(
                CreateVolumeRequest.newBuilder()
                    .setName("pvc-new")
                    .addVolumeCapabilities(DriverFixture.RWX)
                    .putAllSecrets(driver.secrets())
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(1 << 30))
                    .build())
            .getVolume()
            .getVolumeId();
    controller.deleteVolume(
        DeleteVolumeRequest.newBuilder().setVolumeId(id).putAllSecrets(driver.secrets()).build());
  }

  /** Every worker of the common pool parked until the test ends, as a blocking library would. */
  private void blockTheCommonPool() throws InterruptedException {
    int workers = ForkJoinPool.getCommonPoolParallelism();
    CountDownLatch busy = new CountDownLatch(workers);
    for (int i = 0; i < workers; i++) {
      ForkJoinPool.commonPool()
          .execute(
              () -> {
                busy.countDown();
                try {
                  release.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
    }
    assertThat(busy.await(10, TimeUnit.SECONDS)).as("common pool workers blocked").isTrue();
  }
}
