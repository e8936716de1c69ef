package io.jfscsi.csi;

import static org.assertj.core.api.Assertions.assertThat;

import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC handlers run on the transport thread that read the request (CsiServer's direct executor), so
 * nothing they do may wait on a FUSE client. Here one volume's client is stopped (SIGSTOP: alive,
 * answering nothing) while calls for that volume are in flight, one of them about a target bound
 * from the stopped client; the other volume and the driver itself must answer as usual on the same
 * connection, and the stopped volume's calls finish once its client runs again.
 */
class StoppedClientTest {
  @TempDir Path dir;

  private DriverFixture driver;
  private long stopped = -1;

  @AfterEach
  void stop() throws Exception {
    if (stopped > 0) {
      signal(stopped, "CONT");
    }
    if (driver != null) {
      driver.close();
    }
  }

  @Test
  void aStoppedClientHoldsUpOnlyItsOwnVolume() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir).start();
    Path a1 = driver.target("pod-a1", "pvc-a");
    Path a2 = driver.target("pod-a2", "pvc-a");
    Path b1 = driver.target("pod-b1", "pvc-b");
    Path b2 = driver.target("pod-b2", "pvc-b");
    driver.publish("pvc-a", a1);
    driver.publish("pvc-b", b1);
    stopped = clientOf("pvc-a");
    signal(stopped, "STOP");
    Thread.sleep(1_100); // past FUSE's default entry and attribute timeouts of one second

    // Deadlines, so that a blocked transport thread fails the test instead of hanging it.
    var node = driver.csi().node().withDeadlineAfter(30, TimeUnit.SECONDS);
    ExecutorService callers = Executors.newFixedThreadPool(3);
    List<CompletableFuture<?>> onA = new ArrayList<>();
    onA.add(
        CompletableFuture.runAsync(
            () -> {
              try {
                node.nodeGetVolumeStats(
                    NodeGetVolumeStatsRequest.newBuilder()
                        .setVolumeId("pvc-a")
                        .setVolumePath(a1.toString())
                        .build());
              } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
                  throw e; // NOT_FOUND: the unpublish of a1 below was served first
                }
              }
            },
            callers));
    onA.add(
        CompletableFuture.runAsync(
            () -> node.nodePublishVolume(driver.publishRequest("pvc-a", a2).build()), callers));
    // Its checks look at a1, a bind of the stopped client, on the transport thread.
    onA.add(
        CompletableFuture.runAsync(
            () ->
                node.nodeUnpublishVolume(
                    NodeUnpublishVolumeRequest.newBuilder()
                        .setVolumeId("pvc-a")
                        .setTargetPath(a1.toString())
                        .build()),
            callers));
    Thread.sleep(300);

    long start = System.nanoTime();
    assertThat(
            driver
                .csi()
                .identity()
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .probe(ProbeRequest.getDefaultInstance())
                .getReady()
                .getValue())
        .isTrue();
    node.nodePublishVolume(driver.publishRequest("pvc-b", b2).build());
    assertThat(
            node.nodeGetVolumeStats(
                    NodeGetVolumeStatsRequest.newBuilder()
                        .setVolumeId("pvc-b")
                        .setVolumePath(b2.toString())
                        .build())
                .getVolumeCondition()
                .getAbnormal())
        .isFalse();
    Files.writeString(b2.resolve("file"), "written while the other client is stopped");
    node.nodeUnpublishVolume(
        NodeUnpublishVolumeRequest.newBuilder()
            .setVolumeId("pvc-b")
            .setTargetPath(b2.toString())
            .build());
    Duration otherVolume = Duration.ofNanos(System.nanoTime() - start);

    assertThat(onA)
        .as("the stopped client really holds its volume's calls")
        .anyMatch(f -> !f.isDone());
    assertThat(otherVolume)
        .as("the other volume's calls while pvc-a's client is stopped")
        .isLessThan(Duration.ofSeconds(3));

    signal(stopped, "CONT");
    stopped = -1;
    CompletableFuture.allOf(onA.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    callers.shutdown();
    assertThat(Files.readString(b1.resolve("file")))
        .isEqualTo("written while the other client is stopped");
    driver.unpublish("pvc-a", a2);
    driver.unpublish("pvc-b", b1);
    driver.awaitNoClients();
  }

  /**
   * Stats of a stopped client: the first call waits out its deadline, every later one is answered
   * abnormal at once from what the volume's actor learnt, instead of each waiting its own deadline
   * in the actor's mailbox; and the periodic check, not stuck behind them, replaces the client on
   * time.
   */
  @Test
  void statsOfAStoppedClientAnswerAtOnceAndTheCheckReplacesItOnTime() throws Exception {
    HostRequirements.requireFuse();
    driver =
        new DriverFixture(dir)
            .with("reference-check-interval", "6s")
            .with("client.stop-grace", "1s")
            .start();
    Path a1 = driver.target("pod-a1", "pvc-a");
    driver.publish("pvc-a", a1);
    stopped = clientOf("pvc-a");
    long stoppedAt = System.nanoTime();
    signal(stopped, "STOP");
    Thread.sleep(1_100); // past FUSE's attribute timeout: calls reach the stopped client

    var node = driver.csi().node().withDeadlineAfter(60, TimeUnit.SECONDS);
    ExecutorService callers = Executors.newFixedThreadPool(6);
    List<CompletableFuture<Duration>> calls = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      calls.add(
          CompletableFuture.supplyAsync(
              () -> {
                long start = System.nanoTime();
                var stats =
                    node.nodeGetVolumeStats(
                        NodeGetVolumeStatsRequest.newBuilder()
                            .setVolumeId("pvc-a")
                            .setVolumePath(a1.toString())
                            .build());
                assertThat(stats.getVolumeCondition().getAbnormal()).isTrue();
                return Duration.ofNanos(System.nanoTime() - start);
              },
              callers));
    }
    CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    callers.shutdown();
    Duration slowest =
        calls.stream().map(CompletableFuture::join).max(Duration::compareTo).orElseThrow();
    // One deadline (5 s) for the first call, not one per call queued behind it.
    assertThat(slowest)
        .as("the slowest of 6 stats calls of a stopped client")
        .isLessThan(Duration.ofSeconds(9));

    long hung = stopped;
    Awaitility.await()
        .atMost(Duration.ofSeconds(40))
        .until(() -> ProcessHandle.of(hung).map(p -> !p.isAlive()).orElse(true));
    stopped = -1;
    Duration replacedAfter = Duration.ofNanos(System.nanoTime() - stoppedAt);
    // Check interval 6 s + its probe's deadline 5 s + stop grace 1 s, with room for slow hosts.
    assertThat(replacedAfter)
        .as("the stopped client is replaced")
        .isLessThan(Duration.ofSeconds(25));
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(
                        node.nodeGetVolumeStats(
                                NodeGetVolumeStatsRequest.newBuilder()
                                    .setVolumeId("pvc-a")
                                    .setVolumePath(a1.toString())
                                    .build())
                            .getVolumeCondition()
                            .getAbnormal())
                    .isFalse());
    driver.unpublish("pvc-a", a1);
    driver.awaitNoClients();
  }

  /** The pid of this test's FUSE client serving {@code volumeId} (others may run on the host). */
  private long clientOf(String volumeId) {
    List<Long> pids = new ArrayList<>();
    ProcessHandle.allProcesses()
        .forEach(
            p ->
                p.info()
                    .arguments()
                    .ifPresent(
                        args -> {
                          if (p.info().command().orElse("").contains("bindfs")
                              && String.join(" ", args)
                                  .contains(dir.resolve("mnt").resolve(volumeId) + "-")) {
                            pids.add(p.pid());
                          }
                        }));
    assertThat(pids).as("the client of %s", volumeId).hasSize(1);
    return pids.getFirst();
  }

  private static void signal(long pid, String signal) throws Exception {
    assertThat(new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start().waitFor())
        .isZero();
  }
}
