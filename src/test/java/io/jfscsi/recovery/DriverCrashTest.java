package io.jfscsi.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.StatusRuntimeException;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver process is killed with SIGKILL in the middle of a storm of publishes and unpublishes.
 * Pods published before the kill keep their volume while no driver runs; the next driver rebuilds
 * its state from the records and the mount table, and once every target is unpublished nothing is
 * left: no mount, no client process, no record.
 */
class DriverCrashTest {

  @TempDir Path dir;

  DriverFixture driver;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir);
    for (int v = 0; v < 5; v++) {
      Files.createDirectories(driver.data.resolve("pvc-" + v));
    }
  }

  @AfterEach
  void stop() throws Exception {
    driver.close();
  }

  /** What the storm knows for sure about a target: answered published, or answered gone. */
  enum Known {
    PUBLISHED,
    UNPUBLISHED,
    UNCERTAIN
  }

  @Test
  void aKilledDriverLosesNoReferenceAndLeaksNothing() throws Exception {
    Process first = driver.startProcess();
    List<Path> steady = new ArrayList<>();
    for (int v = 0; v < 5; v++) {
      Path t = driver.target("steady-" + v, "pvc-" + v);
      driver.publish("pvc-" + v, t);
      Files.writeString(t.resolve("steady"), "published before the kill");
      steady.add(t);
    }

    List<Path> stormTargets = new ArrayList<>();
    Map<Path, String> volumeOf = new ConcurrentHashMap<>();
    for (int i = 0; i < 40; i++) {
      Path t = driver.target("storm-" + i, "pvc-" + (i % 5));
      stormTargets.add(t);
      volumeOf.put(t, "pvc-" + (i % 5));
    }
    Map<Path, Known> known = new ConcurrentHashMap<>();
    stormTargets.forEach(t -> known.put(t, Known.UNPUBLISHED));
    AtomicBoolean storming = new AtomicBoolean(true);
    ExecutorService callers = Executors.newFixedThreadPool(8);
    for (int c = 0; c < 8; c++) {
      int caller = c;
      callers.submit(
          () -> {
            Random random = new Random(caller);
            while (storming.get()) {
              // Each caller owns every eighth target, so calls on one target never overlap.
              Path t = stormTargets.get(caller + 8 * random.nextInt(stormTargets.size() / 8));
              boolean publish = random.nextBoolean();
              known.put(t, Known.UNCERTAIN);
              try {
                if (publish) {
                  driver.publish(volumeOf.get(t), t);
                } else {
                  driver.unpublish(volumeOf.get(t), t);
                }
                known.put(t, publish ? Known.PUBLISHED : Known.UNPUBLISHED);
              } catch (StatusRuntimeException e) {
                // The driver is down: the outcome stays uncertain, and this caller stops, so that
                // only the call in flight at the kill is uncertain (calls refused at once would
                // otherwise mark target after target uncertain until the storm is called off).
                return;
              }
            }
          });
    }
    // Kill it mid-storm, once calls of both kinds have been answered (a busy machine starts
    // slowly); every caller has a call in flight all the time.
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                known.values().stream().filter(k -> k == Known.PUBLISHED).count() >= 5
                    && known.values().stream().filter(k -> k == Known.UNPUBLISHED).count() >= 5);
    first.destroyForcibly().waitFor();
    // Only the calls in flight at the kill stay uncertain: no new ones start.
    storming.set(false);

    // No driver runs now: pods keep reading and writing their volume.
    for (Path t : steady) {
      assertThat(t.resolve("steady")).hasContent("published before the kill");
      Files.writeString(t.resolve("while-down"), "the driver is dead");
    }
    callers.shutdown();
    assertThat(callers.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    long restartAt = System.nanoTime();

    Map<Known, Long> tally =
        known.values().stream().collect(Collectors.groupingBy(k -> k, Collectors.counting()));
    System.out.println("storm targets at the kill: " + tally);
    assertThat(tally.getOrDefault(Known.PUBLISHED, 0L))
        .as("the storm published something")
        .isPositive();

    driver.startProcess();
    System.out.printf(
        "driver restarted and ready in %d ms%n", (System.nanoTime() - restartAt) / 1_000_000);
    List<String> mounted = driver.mountsUnder();
    for (var e : known.entrySet()) {
      if (e.getValue() == Known.PUBLISHED) {
        assertThat(mounted)
            .as("answered published before the kill")
            .contains(e.getKey().toString());
        try (var files = Files.list(e.getKey())) {
          assertThat(files.count()).isGreaterThanOrEqualTo(0); // answers: not stale
        }
      } else if (e.getValue() == Known.UNPUBLISHED) {
        assertThat(mounted)
            .as("answered unpublished before the kill")
            .doesNotContain(e.getKey().toString());
      }
    }
    for (Path t : steady) {
      assertThat(t.resolve("while-down")).hasContent("the driver is dead");
    }

    // Kubelet unpublishes everything it ever published; nothing may be left behind.
    for (Path t : stormTargets) {
      driver.unpublish(volumeOf.get(t), t);
    }
    for (int v = 0; v < steady.size(); v++) {
      driver.unpublish("pvc-" + v, steady.get(v));
    }
    long cleanupAt = System.nanoTime();
    driver.awaitNoClients();
    System.out.printf(
        "all clients gone %d ms after the last unpublish%n",
        (System.nanoTime() - cleanupAt) / 1_000_000);
    try (var records = Files.list(dir.resolve("state").resolve("clients"))) {
      assertThat(records.filter(f -> f.toString().endsWith(".properties")).toList()).isEmpty();
    }
  }
}
