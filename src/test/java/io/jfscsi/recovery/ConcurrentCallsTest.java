package io.jfscsi.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import csi.v1.NodeUnpublishVolumeRequest;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 1,000 publish and unpublish calls over 50 volumes, all in flight at once through the socket:
 * every call is answered OK, and the end state is exactly what the calls asked for.
 */
class ConcurrentCallsTest {

  @TempDir Path dir;

  DriverFixture driver;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir).start();
  }

  @AfterEach
  void stop() throws Exception {
    driver.close();
  }

  @Test
  void aThousandConcurrentCallsOverFiftyVolumesEndInTheRightState() throws Exception {
    int volumes = 50;
    int targetsPerVolume = 10;
    List<Path> kept = new ArrayList<>();
    List<Path> released = new ArrayList<>();
    List<String> volumeOf = new ArrayList<>();
    List<Path> all = new ArrayList<>();
    for (int v = 0; v < volumes; v++) {
      Files.createDirectories(driver.data.resolve("pvc-" + v));
      for (int t = 0; t < targetsPerVolume; t++) {
        Path target = driver.target("pod-" + v + "-" + t, "pvc-" + v);
        all.add(target);
        volumeOf.add("pvc-" + v);
        // Volumes 0-24 keep half their targets; volumes 25-49 end with none.
        (v < 25 && t % 2 == 0 ? kept : released).add(target);
      }
    }

    // Each target runs its own chain (two calls), and all 500 chains run at once: 1,000 calls.
    ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor();
    long began = System.nanoTime();
    List<CompletableFuture<Void>> chains = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      Path target = all.get(i);
      String volume = volumeOf.get(i);
      boolean keep = kept.contains(target);
      chains.add(
          CompletableFuture.runAsync(
              () -> {
                await(
                    driver
                        .csi()
                        .nodeAsync()
                        .nodePublishVolume(driver.publishRequest(volume, target).build()));
                if (keep) {
                  await(
                      driver
                          .csi()
                          .nodeAsync()
                          .nodePublishVolume(driver.publishRequest(volume, target).build()));
                } else {
                  await(
                      driver
                          .csi()
                          .nodeAsync()
                          .nodeUnpublishVolume(
                              NodeUnpublishVolumeRequest.newBuilder()
                                  .setVolumeId(volume)
                                  .setTargetPath(target.toString())
                                  .build()));
                }
              },
              callers));
    }
    CompletableFuture.allOf(chains.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);
    System.out.printf(
        "1,000 calls over %d volumes answered in %d ms%n",
        volumes, (System.nanoTime() - began) / 1_000_000);
    callers.shutdown();

    Set<String> mounted = new HashSet<>(driver.mountsUnder());
    for (Path t : kept) {
      assertThat(mounted).contains(t.toString());
      Files.writeString(t.resolve("ok"), "kept");
    }
    for (Path t : released) {
      assertThat(mounted).doesNotContain(t.toString());
      assertThat(t).doesNotExist();
    }
    // One client for each volume that kept a target, none for the others.
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> assertThat(driver.clientPids()).hasSize(25));

    for (Path t : kept) {
      driver.unpublish(volumeOf.get(all.indexOf(t)), t);
    }
    driver.awaitNoClients();
  }

  private static void await(ListenableFuture<?> call) {
    try {
      call.get(2, TimeUnit.MINUTES);
    } catch (Exception e) {
      throw new AssertionError("call failed: " + e.getMessage(), e);
    }
  }
}
