package io.jfscsi.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real fault: the FUSE client is killed with SIGKILL while pods read and write through 20
 * published targets. The driver must notice, start the client again and bind every target again.
 */
class ClientCrashRecoveryTest {

  @TempDir Path dir;

  DriverFixture driver;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir).with("client.restart-backoff.min", "100ms").start();
    Files.createDirectories(driver.data.resolve("pvc-1"));
  }

  @AfterEach
  void stop() throws Exception {
    driver.close();
  }

  @Test
  void aKilledClientIsStartedAgainAndEveryTargetIsReadableAgain() throws Exception {
    List<Path> targets = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Path target = driver.target("pod-" + i, "pvc-1");
      driver.publish("pvc-1", target);
      Files.writeString(target.resolve("before-" + i), "written before the crash");
      targets.add(target);
    }
    long oldClient = driver.clientPids().getFirst();

    // Pods keep working on their volume the whole time.
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicLong ok = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    ExecutorService pods = Executors.newFixedThreadPool(4);
    for (int p = 0; p < 4; p++) {
      int pod = p;
      pods.submit(
          () -> {
            int n = 0;
            while (running.get()) {
              Path target = targets.get((pod * 5 + n++) % targets.size());
              try {
                Files.writeString(target.resolve("pod-" + pod + "-" + n), "x");
                Files.readString(target.resolve("before-0"));
                ok.incrementAndGet();
              } catch (IOException e) {
                failed.incrementAndGet();
              }
            }
          });
    }
    Thread.sleep(200);
    new ProcessBuilder("kill", "-9", Long.toString(oldClient)).start().waitFor();

    long killedAt = System.nanoTime();
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> targets.stream().allMatch(ClientCrashRecoveryTest::readable));
    long recoveredMs = (System.nanoTime() - killedAt) / 1_000_000;
    running.set(false);
    pods.shutdown();
    assertThat(pods.awaitTermination(10, TimeUnit.SECONDS)).isTrue();

    System.out.printf(
        "client killed: all %d targets readable again after %d ms "
            + "(pod I/O during the test: %d ok, %d failed)%n",
        targets.size(), recoveredMs, ok.get(), failed.get());
    assertThat(driver.clientPids()).hasSize(1).doesNotContain(oldClient);
    for (int i = 0; i < targets.size(); i++) {
      assertThat(targets.get(i).resolve("before-" + i)).hasContent("written before the crash");
      Files.writeString(targets.get(i).resolve("after"), "written after the recovery");
    }
    assertThat(driver.data.resolve("pvc-1").resolve("after")).exists();

    for (Path target : targets) {
      driver.unpublish("pvc-1", target);
    }
    driver.awaitNoClients();
  }

  @Test
  void kubeletsSubPathBindsAreBoundAgainAfterACrash() throws Exception {
    Path target = driver.target("pod-s", "pvc-1");
    driver.publish("pvc-1", target);
    Files.createDirectories(target.resolve("app-data"));
    Files.writeString(target.resolve("app-data").resolve("config"), "seen through the subPath");
    // What kubelet does for volumeMounts[].subPath: bind the sub-directory of the target.
    Path subPathBind =
        target
            .getParent()
            .getParent()
            .getParent()
            .getParent()
            .resolve("volume-subpaths")
            .resolve("pvc-1")
            .resolve("app")
            .resolve("0");
    Files.createDirectories(subPathBind);
    run("mount", "--bind", target.resolve("app-data").toString(), subPathBind.toString());
    assertThat(subPathBind.resolve("config")).hasContent("seen through the subPath");

    new ProcessBuilder("kill", "-9", Long.toString(driver.clientPids().getFirst()))
        .start()
        .waitFor();
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> readable(subPathBind));
    assertThat(subPathBind.resolve("config")).hasContent("seen through the subPath");

    run("umount", subPathBind.toString()); // kubelet removes its subPath binds first
    driver.unpublish("pvc-1", target);
    driver.awaitNoClients();
  }

  static void run(String... command) throws Exception {
    assertThat(new ProcessBuilder(command).inheritIO().start().waitFor()).isZero();
  }

  static boolean readable(Path target) {
    try (var files = Files.list(target)) {
      return files.findAny().isPresent();
    } catch (IOException e) {
      return false;
    }
  }
}
