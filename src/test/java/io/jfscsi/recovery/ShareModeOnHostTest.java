package io.jfscsi.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FS_SHARE_MOUNT on a real host: two volumes of one file system (same Secret, each its own subPath)
 * published over the real socket share ONE FUSE client process, and each target shows its own
 * volume's directory, through a SIGKILL of the client and a driver restart; the client goes only
 * after the targets of both volumes are unpublished.
 */
class ShareModeOnHostTest {

  @TempDir Path dir;

  DriverFixture driver;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver =
        new DriverFixture(dir)
            .with("share-mount.file-system", true)
            .with("client.restart-backoff.min", "100ms")
            .start();
    Files.createDirectories(driver.data.resolve("pvc-a"));
    Files.createDirectories(driver.data.resolve("pvc-b"));
    Files.writeString(driver.data.resolve("pvc-a").resolve("whose"), "a");
    Files.writeString(driver.data.resolve("pvc-b").resolve("whose"), "b");
  }

  @AfterEach
  void stop() throws Exception {
    driver.close();
  }

  @Test
  void twoVolumesOfOneFileSystemShareOneClientAndEachTargetSeesItsOwnDirectory() throws Exception {
    Path a1 = driver.target("pod-1", "pvc-a");
    Path b1 = driver.target("pod-1", "pvc-b");
    Path b2 = driver.target("pod-2", "pvc-b");
    driver.publish("pvc-a", a1);
    driver.publish("pvc-b", b1);
    driver.publish("pvc-b", b2);

    List<Long> clients = driver.clientPids();
    assertThat(clients).as("one client for both volumes").hasSize(1);
    assertOwnDirectories(a1, b1, b2);
    // The client is named after the file system; the target log names B's volume and directory.
    Path clientsDir = dir.resolve("state").resolve("clients");
    try (var files = Files.list(clientsDir)) {
      List<Path> logs = files.filter(f -> f.toString().endsWith(".targets.log")).toList();
      assertThat(logs).hasSize(1);
      assertThat(logs.getFirst().getFileName().toString()).startsWith("testfs-");
      assertThat(Files.readString(logs.getFirst())).contains(" *rw pvc-b pvc-b " + b1);
    }

    // A real crash: both volumes' targets come back, each on its own directory.
    new ProcessBuilder("kill", "-9", Long.toString(clients.getFirst())).start().waitFor();
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> List.of(a1, b1, b2).stream().allMatch(ShareModeOnHostTest::readable));
    assertThat(driver.clientPids()).hasSize(1).doesNotContain(clients.getFirst());
    assertOwnDirectories(a1, b1, b2);

    // A driver restart adopts the one client and keeps each target's volume.
    long client = driver.clientPids().getFirst();
    driver.stopDriver();
    driver.start();
    assertThat(driver.clientPids()).containsExactly(client);

    // A's last target goes: the client stays for B.
    driver.unpublish("pvc-a", a1);
    assertThat(driver.clientPids()).containsExactly(client);
    assertOwnDirectories(b1, b2);
    driver.unpublish("pvc-b", b1);
    assertThat(driver.clientPids()).containsExactly(client);
    driver.unpublish("pvc-b", b2);
    driver.awaitNoClients();
  }

  @Test
  void withoutTheShareModeEachVolumeHasAClientOfItsOwn() throws Exception {
    driver.stopDriver();
    driver.with("share-mount.file-system", false).start();
    Path a1 = driver.target("pod-1", "pvc-a");
    Path b1 = driver.target("pod-1", "pvc-b");
    driver.publish("pvc-a", a1);
    driver.publish("pvc-b", b1);
    assertThat(driver.clientPids()).hasSize(2);
    assertOwnDirectories(a1, b1);
    driver.unpublish("pvc-a", a1);
    driver.unpublish("pvc-b", b1);
    driver.awaitNoClients();
  }

  /** Each target shows its volume's directory: its own file, and what it writes lands there. */
  private void assertOwnDirectories(Path... targets) throws IOException {
    for (Path t : targets) {
      String volume = t.getParent().getFileName().toString();
      assertThat(t.resolve("whose")).hasContent(volume.substring("pvc-".length()));
      Path probe =
          t.resolve(
              "written-through-" + t.getParent().getParent().getParent().getParent().getFileName());
      Files.writeString(probe, volume);
      assertThat(driver.data.resolve(volume).resolve(probe.getFileName())).hasContent(volume);
    }
  }

  private static boolean readable(Path target) {
    try {
      Files.readString(target.resolve("whose"));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
