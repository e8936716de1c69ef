package io.jfscsi.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.NamespaceContainer;
import io.jfscsi.testing.NamespaceContainer.Propagation;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client killed with SIGKILL, again and again, under containers made as runc makes them ({@link
 * NamespaceContainer}: own mount and PID namespaces, own /proc, own root, the volume at /data):
 * those whose volume mount has HostToContainer propagation get the fresh bind through propagation,
 * those with none get it from the namespace helper; every one reads and writes its volume again
 * after every kill, and the last recovery is as quick as the first.
 */
class EveryContainerRecoversTest {
  static final Duration BOUND = Duration.ofSeconds(20);
  static final Duration MIN_BACKOFF = Duration.ofMillis(300);
  static final Duration RESET_AFTER = Duration.ofSeconds(1);
  static final int KILLS = 5;

  @TempDir Path dir;

  DriverFixture driver;
  Path work;
  final List<NamespaceContainer> containers = new ArrayList<>();
  final List<Process> holders = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver =
        new DriverFixture(dir)
            .with("client.restart-backoff.min", MIN_BACKOFF.toMillis() + "ms")
            .with("client.restart-backoff.reset-after", RESET_AFTER.toMillis() + "ms");
    // On a real node the kubelet root is a shared mount (kubelet makes it one at start).
    run("mount", "--bind", driver.kubelet.toString(), driver.kubelet.toString());
    run("mount", "--make-shared", driver.kubelet.toString());
    driver.start();
    Files.createDirectories(driver.data.resolve("pvc-1"));
    Files.writeString(driver.data.resolve("pvc-1").resolve("before"), "written before the crash");
    work = Files.createDirectories(dir.resolve("containers"));
  }

  @AfterEach
  void stop() throws Exception {
    for (NamespaceContainer c : containers) {
      c.close();
    }
    for (Process p : holders) {
      p.destroyForcibly().waitFor();
    }
    if (driver != null) {
      driver.close(); // also unmounts the kubelet root's own bind, deepest mounts first
    }
  }

  @Test
  void everyContainerReadsAgainAfterEachOfFiveKillsWithOrWithoutPropagation() throws Exception {
    List<String> pods = List.of(uid(), uid(), uid(), uid());
    List<Path> targets = new ArrayList<>();
    for (String pod : pods) {
      Path t = driver.target(pod, "pvc-1");
      driver.publish("pvc-1", t);
      targets.add(t);
    }
    // Two containers of one pod, each in a namespace of its own; one more private; two with
    // HostToContainer propagation; and a process of no pod that holds a copy of the volume.
    container("private-a", Propagation.PRIVATE, targets.get(0), Optional.of(pods.get(0)));
    container("private-a2", Propagation.PRIVATE, targets.get(0), Optional.of(pods.get(0)));
    container("private-b", Propagation.PRIVATE, targets.get(1), Optional.of(pods.get(1)));
    NamespaceContainer slaveC =
        container("h2c-c", Propagation.HOST_TO_CONTAINER, targets.get(2), Optional.of(pods.get(2)));
    container("h2c-d", Propagation.HOST_TO_CONTAINER, targets.get(3), Optional.of(pods.get(3)));
    NamespaceContainer stranger =
        container("stranger", Propagation.PRIVATE, targets.get(3), Optional.empty());
    List<NamespaceContainer> podContainers =
        containers.stream().filter(c -> c != stranger).toList();
    assertThat(MountInfo.ofProcess(slaveC.pid()))
        .as("the kubelet tree is out of the container's sight")
        .noneMatch(e -> e.mountPoint().startsWith(driver.kubelet));
    // A process that opened a file before the first crash and keeps it open.
    Process holder =
        new ProcessBuilder(
                "sh", "-c", "exec 3<'" + targets.get(0).resolve("before") + "'; exec sleep 600")
            .start();
    holders.add(holder);
    Path heldOpen = Path.of("/proc", Long.toString(holder.pid()), "fd", "3");
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> Files.isReadable(heldOpen));

    List<Long> slowest = new ArrayList<>();
    for (int kill = 1; kill <= KILLS; kill++) {
      long oldClient = driver.clientPids().getFirst();
      run("kill", "-9", Long.toString(oldClient));
      long killedAt = System.nanoTime();
      Map<String, Long> failedAt = new LinkedHashMap<>();
      Map<String, Long> readsAgainAt = new LinkedHashMap<>();
      long hostMs = -1;
      while (System.nanoTime() - killedAt < BOUND.toNanos()
          && (hostMs < 0 || readsAgainAt.size() < podContainers.size())) {
        long now = (System.nanoTime() - killedAt) / 1_000_000;
        if (hostMs < 0 && targets.stream().allMatch(EveryContainerRecoversTest::readable)) {
          hostMs = now;
        }
        for (NamespaceContainer c : podContainers) {
          if (!c.ok()) {
            failedAt.putIfAbsent(c.name, now);
          } else if (failedAt.containsKey(c.name)) {
            readsAgainAt.putIfAbsent(c.name, now);
          }
        }
        Thread.sleep(10);
      }
      System.out.printf(
          "kill %d of the client (pid %d): host targets readable after %d ms;"
              + " containers failing from (ms) %s; reading again at (ms) %s%n",
          kill, oldClient, hostMs, failedAt, readsAgainAt);

      assertThat(hostMs)
          .as("kill %d: host targets readable again within %s", kill, BOUND)
          .isNotNegative();
      assertThat(failedAt)
          .as("kill %d: every container lost its volume", kill)
          .containsOnlyKeys(names(podContainers));
      assertThat(readsAgainAt)
          .as("kill %d: every container reads again (statuses %s)", kill, statuses(podContainers))
          .containsOnlyKeys(names(podContainers));
      assertThat(driver.clientPids()).hasSize(1).doesNotContain(oldClient);
      slowest.add(readsAgainAt.values().stream().mapToLong(Long::longValue).max().orElseThrow());
      // HostToContainer: the fresh bind arrived through propagation, on top of the dead ones.
      assertThat(layersAt(slaveC))
          .as("kill %d: binds stacked at h2c-c's %s", kill, NamespaceContainer.VOLUME)
          .isEqualTo(kill + 1);
      // The client served a while before the next kill: no crash loop, no growing backoff.
      Thread.sleep(RESET_AFTER.toMillis() + 200);
    }
    System.out.printf("slowest container per kill (ms): %s%n", slowest);
    // A backoff doubling from 300 ms would make the fifth restart wait 4.8 s.
    assertThat(slowest.getLast())
        .as("the fifth recovery is not slower than the first (%s)", slowest)
        .isLessThan(slowest.getFirst() + 2_000);
    // Three private containers were repaired inside their namespaces after every kill.
    assertThat(metric("jfscsi_container_recoveries_total\\{outcome=\"recovered\"\\}"))
        .isGreaterThanOrEqualTo(3.0 * KILLS);

    // From inside each container: the data from before the crashes, and new writes arrive.
    for (NamespaceContainer c : podContainers) {
      assertThat(c.inside("cat", c.volume.resolve("before").toString()))
          .isEqualTo("written before the crash");
      c.inside("sh", "-c", "echo after > '" + c.volume.resolve("after-" + c.name) + "'");
      assertThat(driver.data.resolve("pvc-1").resolve("after-" + c.name)).hasContent("after\n");
    }
    // What cannot be saved: a file opened before a crash stays bound to the dead client.
    assertThat(readError(heldOpen)).contains("Transport endpoint is not connected");
    // The process of no pod: its copy is no target's, so it is left alone (still dead).
    assertThat(stranger.ok()).isFalse();
    MountEntry strangers =
        MountInfo.topMostAt(MountInfo.ofProcess(stranger.pid()), Path.of(NamespaceContainer.VOLUME))
            .orElseThrow();
    MountEntry fresh = MountInfo.topMostAt(MountInfo.self(), targets.get(3)).orElseThrow();
    assertThat(strangers.device()).isNotEqualTo(fresh.device());

    // Kubelet stops the containers before it unpublishes; then nothing is left on the host,
    // the dead binds stacked beneath the targets included.
    for (NamespaceContainer c : containers) {
      c.close();
    }
    holder.destroyForcibly().waitFor();
    for (Path t : targets) {
      driver.unpublish("pvc-1", t);
    }
    awaitNothingLeftOnTheHost();
  }

  @Test
  void aContainerWhoseRecoveryFailedIsTriedAgainAndReportedOnceItSucceeds() throws Exception {
    String pod = uid();
    Path target = driver.target(pod, "pvc-1");
    driver.publish("pvc-1", target);
    NamespaceContainer c = container("private", Propagation.PRIVATE, target, Optional.of(pod));
    // The namespace helper fails (as it would on a transient error) until it is put back.
    Path helper = dir.resolve("state").resolve("bin").resolve("jfs-nsbind");
    Path saved = Files.copy(helper, dir.resolve("jfs-nsbind.saved"));
    Path failing = dir.resolve("jfs-nsbind.failing");
    Files.writeString(failing, "#!/bin/sh\necho 'jfs-nsbind: failing on purpose' >&2\nexit 8\n");
    failing.toFile().setExecutable(true);
    Files.move(failing, helper, StandardCopyOption.REPLACE_EXISTING);

    run("kill", "-9", Long.toString(driver.clientPids().getFirst()));
    long killedAt = System.nanoTime();
    Awaitility.await()
        .atMost(BOUND)
        .until(() -> metric("jfscsi_container_recoveries_total\\{outcome=\"failed\"\\}") >= 1);
    assertThat(readable(target)).as("the host's target is bound again").isTrue();
    assertThat(c.ok()).as("the container is not repaired while the helper fails").isFalse();

    Files.move(saved, helper, StandardCopyOption.REPLACE_EXISTING);
    long restoredMs = (System.nanoTime() - killedAt) / 1_000_000;
    Awaitility.await().atMost(BOUND).pollInterval(Duration.ofMillis(20)).until(c::ok);
    System.out.printf(
        "helper failing until %d ms after the kill; the container reads again at" + " %d ms%n",
        restoredMs, (System.nanoTime() - killedAt) / 1_000_000);
    assertThat(metric("jfscsi_container_recoveries_total\\{outcome=\"recovered\"\\}"))
        .isGreaterThanOrEqualTo(1);
    assertThat(c.inside("cat", c.volume.resolve("before").toString()))
        .isEqualTo("written before the crash");
  }

  @Test
  void unpublishLeavesNothingOnTheHostWhileAPrivateContainerStillHoldsItsCopy() throws Exception {
    String pod = uid();
    Path t0 = driver.target(pod, "pvc-1");
    driver.publish("pvc-1", t0);
    NamespaceContainer c = container("private-0", Propagation.PRIVATE, t0, Optional.of(pod));
    run("kill", "-9", Long.toString(driver.clientPids().getFirst()));
    Awaitility.await().atMost(BOUND).pollInterval(Duration.ofMillis(20)).until(() -> !c.ok());
    Awaitility.await().atMost(BOUND).pollInterval(Duration.ofMillis(20)).until(c::ok);

    driver.unpublish("pvc-1", t0);

    // The host is clean; the container's copy is not the driver's to unmount.
    awaitNothingLeftOnTheHost();
    assertThat(Files.exists(t0)).isFalse();
    assertThat(c.isAlive()).isTrue();
  }

  // ---- helpers -----------------------------------------------------------------------------

  NamespaceContainer container(
      String name, Propagation propagation, Path target, Optional<String> pod) throws IOException {
    NamespaceContainer c = NamespaceContainer.start(name, propagation, target, pod, work);
    containers.add(c);
    return c;
  }

  static String uid() {
    return UUID.randomUUID().toString();
  }

  static String[] names(List<NamespaceContainer> cs) {
    return cs.stream().map(c -> c.name).toArray(String[]::new);
  }

  static Map<String, String> statuses(List<NamespaceContainer> cs) {
    Map<String, String> s = new LinkedHashMap<>();
    cs.forEach(c -> s.put(c.name, c.status().orElse("?")));
    return s;
  }

  static long layersAt(NamespaceContainer c) {
    Path volume = Path.of(NamespaceContainer.VOLUME);
    return MountInfo.ofProcess(c.pid()).stream().filter(e -> e.mountPoint().equals(volume)).count();
  }

  double metric(String pattern) throws IOException {
    String text =
        new String(
            URI.create(
                    "http://127.0.0.1:" + driver.driver().managementPort().getAsInt() + "/metrics")
                .toURL()
                .openStream()
                .readAllBytes(),
            StandardCharsets.UTF_8);
    Matcher m = Pattern.compile("(?m)^" + pattern + " (\\S+)$").matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  /** No client runs and nothing is mounted under the test directory but the kubelet root's bind. */
  void awaitNothingLeftOnTheHost() {
    Awaitility.await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              assertThat(driver.clientPids()).as("client pids").isEmpty();
              assertThat(driver.mountsUnder())
                  .as("mounts on the host")
                  .containsExactly(driver.kubelet.toString());
            });
  }

  static String readError(Path file) {
    try {
      return "read: " + Files.readString(file);
    } catch (IOException e) {
      return e.getMessage();
    }
  }

  static boolean readable(Path target) {
    try (var files = Files.list(target)) {
      return files.findAny().isPresent();
    } catch (IOException e) {
      return false;
    }
  }

  static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", command), out).isZero();
  }
}
