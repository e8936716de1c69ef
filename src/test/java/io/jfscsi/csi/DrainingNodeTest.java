package io.jfscsi.csi;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node drain on a real driver: every one of 32 real FUSE clients is stopped at once, and each
 * stop takes the client's whole grace (its bindfs ignores SIGTERM, as a client busy flushing would
 * not exit at once). Pods of other volumes published meanwhile are answered in time over the real
 * socket, and every stopped client is gone afterwards with nothing left mounted.
 */
class DrainingNodeTest {
  static final int CLIENTS = 32;
  static final Duration GRACE = Duration.ofSeconds(8);
  static final Duration IN_TIME = Duration.ofSeconds(2);

  @TempDir Path dir;

  private DriverFixture driver;

  @AfterEach
  void stop() throws Exception {
    if (driver != null) {
      driver.close();
    }
  }

  @Test
  void publishesOfOtherVolumesAreAnsweredWhileThirtyTwoClientsTakeTheirWholeGraceToStop()
      throws Exception {
    HostRequirements.requireFuse();
    driver =
        new DriverFixture(dir)
            .with("client.bindfs-binary", stubbornBindfs().toString())
            .with("client.stop-grace", GRACE.toSeconds() + "s")
            .start();
    List<Path> targets = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      Path t = driver.target("pod-" + i, "pvc-drain-" + i);
      driver.publish("pvc-drain-" + i, t);
      targets.add(t);
    }
    List<Long> draining = driver.clientPids();
    assertThat(draining).hasSize(CLIENTS);

    long drainStarted = System.nanoTime();
    for (int i = 0; i < CLIENTS; i++) {
      driver.unpublish("pvc-drain-" + i, targets.get(i));
    }
    List<Long> took = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Path t = driver.target("pod-other-" + i, "pvc-other-" + i);
      long sent = System.nanoTime();
      driver.publish("pvc-other-" + i, t);
      took.add(Duration.ofNanos(System.nanoTime() - sent).toMillis());
      assertThat(Files.isDirectory(t)).isTrue();
    }
    long stillStopping = draining.stream().filter(DrainingNodeTest::alive).count();
    Duration elapsed = Duration.ofNanos(System.nanoTime() - drainStarted);
    System.out.printf(
        "drain of %d clients: unpublishes and 4 publishes done in %d ms, "
            + "publishes took %s ms, %d clients still in their grace%n",
        CLIENTS, elapsed.toMillis(), took, stillStopping);
    assertThat(took)
        .as("ms to answer each publish while %d clients stop", CLIENTS)
        .allSatisfy(ms -> assertThat(ms).isLessThan(IN_TIME.toMillis()));
    assertThat(elapsed)
        .as("the drain and the publishes took less than one grace")
        .isLessThan(GRACE);
    assertThat(stillStopping).as("clients still in their grace").isEqualTo(CLIENTS);

    Awaitility.await()
        .atMost(GRACE.plusSeconds(30))
        .untilAsserted(
            () ->
                assertThat(draining.stream().filter(DrainingNodeTest::alive).toList())
                    .as("clients of the drained volumes")
                    .isEmpty());
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(driver.mountsUnder())
                    .as("mounts left")
                    .allSatisfy(m -> assertThat(m).doesNotContain("pvc-drain-")));
    for (int i = 0; i < 4; i++) {
      driver.unpublish("pvc-other-" + i, driver.target("pod-other-" + i, "pvc-other-" + i));
    }
    Awaitility.await()
        .atMost(GRACE.plusSeconds(15))
        .untilAsserted(() -> assertThat(driver.mountsUnder()).as("mounts left").isEmpty());
  }

  private static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  /**
   * bindfs that keeps an inherited "ignore SIGTERM": libfuse sets its handler only over the
   * default.
   */
  private Path stubbornBindfs() throws Exception {
    Path bindfs =
        Stream.of(System.getenv("PATH").split(":"))
            .map(p -> Path.of(p, "bindfs"))
            .filter(Files::isExecutable)
            .findFirst()
            .orElseThrow();
    Path stubborn = dir.resolve("bin").resolve("bindfs");
    Files.createDirectories(stubborn.getParent());
    Files.writeString(stubborn, "#!/bin/sh\ntrap '' TERM\nexec " + bindfs + " \"$@\"\n");
    Files.setPosixFilePermissions(stubborn, PosixFilePermissions.fromString("rwx------"));
    return stubborn;
  }
}
