package io.jfscsi.csi;

import static io.jfscsi.csi.ControllerConformanceTest.RWX;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import csi.v1.GetPluginInfoRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Starting, stopping and upgrading the driver: the socket, and mounts that must survive. */
class DriverLifecycleTest {

  @TempDir Path dir;

  DriverFixture driver;

  @BeforeEach
  void setUp() throws IOException {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir);
    Files.createDirectories(driver.data.resolve("pvc-1"));
  }

  @AfterEach
  void tearDown() throws Exception {
    driver.close();
  }

  @Test
  void theSocketIsNotWorldWritableAndIsRemovedOnStop() throws Exception {
    driver.start();
    assertThat(Files.getPosixFilePermissions(driver.socket))
        .doesNotContain(PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ);
    driver.stopDriver();
    assertThat(driver.socket).doesNotExist();
  }

  @Test
  void aTcpEndpointServesTheSameServicesForDebugging() throws Exception {
    int port;
    try (var probe = new ServerSocket(0)) {
      port = probe.getLocalPort();
    }
    driver.with("endpoint", "tcp://127.0.0.1:" + port).start();
    try (CsiClient tcp = CsiClient.connect("tcp://127.0.0.1:" + port)) {
      assertThat(tcp.identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName())
          .isEqualTo("csi.juicefs.com");
    }
  }

  @Test
  void aCallInFlightWhenTheDriverStopsIsStillAnswered() throws Exception {
    // A client that takes a second to start keeps the publish in flight while the driver stops;
    // it leaves a mark when it starts, so the driver is stopped with the call surely in flight.
    Path slowBindfs = dir.resolve("slow-bindfs");
    Path started = dir.resolve("client-started");
    Files.writeString(
        slowBindfs,
        "#!/bin/sh\ntouch " + started + "\nsleep 1\n" + "exec /usr/bin/bindfs \"$@\"\n");
    Files.setPosixFilePermissions(slowBindfs, PosixFilePermissions.fromString("rwx------"));
    driver.with("client.bindfs-binary", slowBindfs.toString()).start();
    Path a = driver.target("pod-a", "pvc-1");
    var answer =
        driver.csi().nodeAsync().nodePublishVolume(driver.publishRequest("pvc-1", a).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(started));
    driver.driver().close();
    answer.get(30, TimeUnit.SECONDS);
    assertThat(driver.mountsUnder()).contains(a.toString());
  }

  @Test
  void aBindNoRecordReferencesIsUnmountedWhenTheDriverStarts() throws Exception {
    driver.start();
    Path kept = driver.target("pod-a", "pvc-1");
    driver.publish("pvc-1", kept);
    Path clientMount;
    try (var mounts = Files.list(dir.resolve("mnt"))) {
      clientMount = mounts.findFirst().orElseThrow();
    }
    driver.stopDriver();
    // A publish cut short by a driver crash: bound, never recorded.
    Path orphan = driver.target("pod-b", "pvc-1");
    Files.createDirectory(orphan);
    new ProcessBuilder(
            "mount", "--bind", clientMount.resolve("pvc-1").toString(), orphan.toString())
        .inheritIO()
        .start()
        .waitFor();
    assertThat(driver.mountsUnder()).contains(orphan.toString());

    driver.start();
    // The node guardian clears it as it starts, which Driver.start does not wait for (calls
    // reach the guardian only after it).
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(driver.mountsUnder())
                    .contains(kept.toString())
                    .doesNotContain(orphan.toString()));
    driver.unpublish("pvc-1", kept);
    driver.awaitNoClients();
  }

  @Test
  void aStaleSocketFileIsReplacedAndALiveOneIsRefused() throws Exception {
    try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      other.bind(UnixDomainSocketAddress.of(driver.socket));
      assertThatThrownBy(driver::start)
          .isInstanceOf(IOException.class)
          .hasMessageContaining("another process");
    }
    // The other server is gone but its socket file stays behind.
    assertThat(driver.socket).exists();
    driver.start();
    assertThat(
            driver.csi().identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue())
        .isTrue();
  }

  @Test
  void stoppingTheDriverLeavesClientsAndMountsAndTheNextDriverAdoptsThem() throws Exception {
    driver.start();
    Path a = driver.target("pod-a", "pvc-1");
    Path b = driver.target("pod-b", "pvc-1");
    for (Path t : List.of(a, b)) {
      driver
          .csi()
          .node()
          .nodePublishVolume(
              NodePublishVolumeRequest.newBuilder()
                  .setVolumeId("pvc-1")
                  .setTargetPath(t.toString())
                  .setVolumeCapability(RWX)
                  .putAllSecrets(driver.secrets())
                  .putVolumeContext("subPath", "pvc-1")
                  .build());
    }
    Files.writeString(a.resolve("before.txt"), "before the upgrade");
    List<Long> clients = driver.clientPids();
    assertThat(clients).hasSize(1);

    driver.stopDriver();
    // While no driver runs, the pods keep their volume.
    assertThat(b.resolve("before.txt")).hasContent("before the upgrade");
    Files.writeString(b.resolve("during.txt"), "while the driver was down");
    assertThat(driver.clientPids()).isEqualTo(clients);

    driver.start();
    assertThat(driver.clientPids())
        .as("the new driver adopts the running client")
        .isEqualTo(clients);
    assertThat(a.resolve("during.txt")).hasContent("while the driver was down");
    for (Path t : List.of(a, b)) {
      driver
          .csi()
          .node()
          .nodeUnpublishVolume(
              NodeUnpublishVolumeRequest.newBuilder()
                  .setVolumeId("pvc-1")
                  .setTargetPath(t.toString())
                  .build());
    }
    driver.awaitNoClients();
  }
}
