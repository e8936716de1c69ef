package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.host.MountInfo;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.RealNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The JuiceFS client of a Mount Pod (the stand-in's bindfs) killed with SIGKILL from the host, five
 * times in a row, under a real kubelet: every app container reads its volume again each time, the
 * one with HostToContainer propagation through the fresh bind on the host, the one without
 * propagation through the driver's repair inside its mount namespace; and kubelet's
 * CrashLoopBackOff does not set the pace.
 */
class ClientKillOnNodeTest {
  private static final int KILLS = 5;

  /** The bound on each recovery, kill to every container reading again. */
  private static final Duration BOUND = Duration.ofSeconds(60);

  /**
   * A client that served this long before it died is no crash loop (the driver's
   * client.restart-backoff.reset-after, 10 s, plus a margin): each kill finds such a client, so
   * every recovery starts from the first backoff step, as a crash now and then does.
   */
  private static final Duration SERVED = Duration.ofSeconds(11);

  private static final List<String> APPS = List.of("host-to-container", "no-propagation");

  private static NodeNamespace space;

  @BeforeAll
  static void up() {
    space = NodeNamespace.create("node-kill");
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (space != null) {
      space.close();
    }
  }

  /** One kill: when it happened and when, after it, the client and each app read again. */
  record Recovery(
      int n,
      long killedAt,
      String killedPod,
      long clientBack,
      String servingPod,
      Map<String, Long> readingAt) {
    long worst() {
      return readingAt.values().stream().mapToLong(t -> t - killedAt).max().orElseThrow();
    }

    String line() {
      StringBuilder s =
          new StringBuilder(
              String.format(
                  "kill %d of %s -> client back +%d ms (%s)",
                  n,
                  killedPod,
                  clientBack - killedAt,
                  servingPod.equals(killedPod)
                      ? "restarted in place, adopted"
                      : "replaced by " + servingPod));
      readingAt.forEach(
          (app, t) -> s.append(String.format(", %s reading +%d ms", app, t - killedAt)));
      return s.toString();
    }
  }

  @Test
  void every_container_reads_again_after_each_of_five_kills_of_the_client() throws Exception {
    String pv = space.staticVolume("killed", Map.of(), List.of());
    space.create(
        NodeNamespace.app(APPS.get(0), "killed", NodeNamespace.READER, "HostToContainer", null));
    space.create(NodeNamespace.app(APPS.get(1), "killed", NodeNamespace.READER, null, null));
    for (String app : APPS) {
      space.awaitRunning(app, Duration.ofMinutes(3));
      space.await(Duration.ofSeconds(30), app + " reading", () -> lastOk(app).isPresent());
    }
    long recoveriesBefore = recoveriesCounted();
    List<Recovery> timeline = new ArrayList<>();
    long servingSince = System.currentTimeMillis();
    for (int n = 1; n <= KILLS; n++) {
      long wait = servingSince + SERVED.toMillis() - System.currentTimeMillis();
      if (wait > 0) {
        Thread.sleep(wait);
      }
      Pod mountPod = space.mountPodOf(pv);
      Path mountPath =
          Path.of(mountPod.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH));
      ProcessHandle client =
          NodeNamespace.clientServing(mountPath)
              .orElseThrow(
                  () ->
                      new AssertionError(
                          "no bindfs serves " + mountPath + "\n" + space.diagnostics()));
      long killedAt = System.currentTimeMillis();
      assertThat(client.destroyForcibly()).as("SIGKILL to " + client.pid()).isTrue();

      String[] serving = new String[1];
      long[] clientBack = new long[1];
      space.await(
          BOUND,
          "kill " + n + ": a client serving the volume again",
          () -> {
            Pod p = space.mountPodOfOrNull(pv);
            if (p == null || !"Running".equals(p.getStatus().getPhase())) {
              return false;
            }
            Path at = Path.of(p.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH));
            Optional<ProcessHandle> c = NodeNamespace.clientServing(at);
            if (c.isEmpty()
                || c.get().pid() == client.pid()
                || !Files.isReadable(at.resolve("f"))) {
              return false;
            }
            serving[0] = p.getMetadata().getName();
            clientBack[0] = System.currentTimeMillis();
            return true;
          });
      Map<String, Long> readingAt = new LinkedHashMap<>();
      for (String app : APPS) {
        space.await(
            BOUND.minusMillis(System.currentTimeMillis() - killedAt),
            "kill " + n + ": " + app + " reading again",
            () -> {
              OptionalLong again = space.readingAgainAfter(app, killedAt);
              again.ifPresent(t -> readingAt.put(app, t));
              return again.isPresent();
            });
      }
      Recovery r =
          new Recovery(
              n, killedAt, mountPod.getMetadata().getName(), clientBack[0], serving[0], readingAt);
      System.err.println("ClientKillOnNodeTest: " + r.line());
      timeline.add(r);
      servingSince = System.currentTimeMillis();
    }

    assertThat(timeline)
        .allSatisfy(r -> assertThat(Duration.ofMillis(r.worst())).as(r.line()).isLessThan(BOUND));
    // kubelet alone would restart the fifth crash of a pod after 40-80 s (CrashLoopBackOff).
    assertThat(timeline.get(KILLS - 1).worst())
        .as("the fifth recovery is not paced by kubelet")
        .isLessThan(timeline.get(0).worst() + 20_000);
    // The container without propagation was repaired in its namespace each time (it holds a
    // private copy that no bind on the host reaches), and no repair failed.
    space.await(
        Duration.ofSeconds(30),
        "an Event of each repair of " + APPS.get(1),
        () -> recoveryEvents(APPS.get(1), "JuiceFSContainerRecovered") >= KILLS);
    assertThat(
            recoveryEvents(APPS.get(0), "JuiceFSContainerRecoveryFailed")
                + recoveryEvents(APPS.get(1), "JuiceFSContainerRecoveryFailed"))
        .isZero();
    // As kubectl describe pod shows it: on the pod (by its UID), from this node, naming the PV.
    String uid =
        space.kube.pods().inNamespace(space.ns).withName(APPS.get(1)).get().getMetadata().getUid();
    assertThat(space.events(APPS.get(1)))
        .filteredOn(e -> "JuiceFSContainerRecovered".equals(e.getReason()))
        .allSatisfy(
            e -> {
              assertThat(e.getType()).isEqualTo("Normal");
              assertThat(e.getInvolvedObject().getKind()).isEqualTo("Pod");
              assertThat(e.getInvolvedObject().getUid()).isEqualTo(uid);
              assertThat(e.getSource().getHost()).isEqualTo(RealNode.NODE_NAME);
              assertThat(e.getMessage()).contains(pv);
            });
    assertThat(recoveriesCounted() - recoveriesBefore)
        .as("jfscsi_client_recoveries_total of the node plugin")
        .isEqualTo(KILLS);

    // Apps gone: nothing of the file system stays mounted on the node, one client at most
    // runs until the Mount Pod's exit, none after it.
    for (String app : APPS) {
      space.kube.pods().inNamespace(space.ns).withName(app).delete();
    }
    String source = space.dataOf(pv).toString();
    space.await(
        Duration.ofMinutes(2),
        "no Mount Pod and no mount of " + source + " left",
        () ->
            space.noMountPodOf(pv)
                && MountInfo.self().stream().noneMatch(e -> e.source().equals(source)));
    assertThat(ProcessHandle.allProcesses().filter(p -> NodeNamespace.isClientOf(p, source)))
        .isEmpty();
  }

  private static Optional<Long> lastOk(String app) {
    String[] lines = space.log(app).strip().split("\n");
    String last = lines[lines.length - 1];
    return last.endsWith(" ok")
        ? Optional.of(Long.parseLong(last.split(" ")[0]))
        : Optional.empty();
  }

  /** The node plugin's jfscsi_client_recoveries_total (its management port is the node's). */
  private static long recoveriesCounted() throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newHttpClient()) {
      String metrics =
          http.send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:9560/metrics")).build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      return metrics
          .lines()
          .filter(l -> l.startsWith("jfscsi_client_recoveries_total "))
          .mapToLong(l -> (long) Double.parseDouble(l.substring(l.indexOf(' ') + 1).strip()))
          .findFirst()
          .orElse(0);
    }
  }

  private static long recoveryEvents(String pod, String reason) {
    return space.events(pod).stream()
        .filter(e -> reason.equals(e.getReason()))
        .mapToLong(ClientKillOnNodeTest::count)
        .sum();
  }

  private static long count(Event e) {
    return e.getCount() == null ? 1 : e.getCount();
  }
}
