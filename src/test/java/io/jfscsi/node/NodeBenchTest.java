package io.jfscsi.node;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.jfscsi.runtime.kube.MountPodNames;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The real node's figures for docs/performance.md, not a check (tagged benchmark: the normal run
 * leaves it out): app pod created to Running for the first pod of a volume (its Mount Pod started
 * on the way) and for a pod joining the running Mount Pod, each beside the same pod with an
 * emptyDir instead, created right before it; the API requests the node plugin made for each of the
 * two (its jfscsi_kubernetes_requests_total); and the time from a kill -9 of the client on the host
 * to both app containers (HostToContainer and no propagation) reading again. Each round uses a
 * volume of its own. Run it with
 *
 * <pre>
 * ./mvnw test -Dtest=NodeBenchTest -Dsurefire.excludedGroups= [-Djfs-csi.node-bench.rounds=3]
 * </pre>
 *
 * and read the lines "NodeBench:" in
 * target/surefire-reports/io.jfscsi.node.NodeBenchTest-output.txt.
 */
@Tag("benchmark")
class NodeBenchTest {
  private static final String NODE_METRICS = "http://127.0.0.1:9560/metrics";

  @Test
  void pod_start_and_client_kill_figures() throws Exception {
    int rounds = Integer.getInteger("jfs-csi.node-bench.rounds", 3);
    List<String> table = new ArrayList<>();
    try (NodeNamespace space = NodeNamespace.create("node-bench")) {
      for (int r = 1; r <= rounds; r++) {
        table.add(round(space, r));
      }
    }
    System.err.println(
        "NodeBench: round | emptyDir pod | first pod of a volume | API requests (node plugin)"
            + " | emptyDir pod | pod joining | API requests | kill to both reading again");
    table.forEach(line -> System.err.println("NodeBench: " + line));
  }

  private static String round(NodeNamespace space, int r) throws Exception {
    String claim = "bench" + r;
    String pv = space.staticVolume(claim, Map.of(), List.of());
    long emptyFirst = toRunning(space, emptyDirPod("empty-" + r + "a"));
    Map<String, Long> before = requests();
    long first =
        toRunning(space, NodeNamespace.app("first-" + r, claim, NodeNamespace.READER, null, null));
    Map<String, Long> afterFirst = requests();
    long emptyJoin = toRunning(space, emptyDirPod("empty-" + r + "b"));
    Map<String, Long> beforeJoin = requests();
    long join = toRunning(space, NodeNamespace.app("join-" + r, claim, NodeNamespace.READER));
    Map<String, Long> afterJoin = requests();

    // Both apps read; then the client dies.
    List<String> apps = List.of("first-" + r, "join-" + r);
    for (String app : apps) {
      space.await(
          Duration.ofSeconds(30), app + " reading", () -> space.log(app).strip().endsWith(" ok"));
    }
    Thread.sleep(11_000); // past client.restart-backoff.reset-after: not a crash loop
    Pod mountPod = space.mountPodOf(pv);
    Path mountPath = Path.of(mountPod.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH));
    ProcessHandle client =
        NodeNamespace.clientServing(mountPath)
            .orElseThrow(() -> new AssertionError("no client serves " + mountPath));
    long killedAt = System.currentTimeMillis();
    client.destroyForcibly();
    long worst = 0;
    for (String app : apps) {
      long[] at = new long[1];
      space.await(
          Duration.ofSeconds(90),
          app + " reading again",
          () -> {
            OptionalLong t = space.readingAgainAfter(app, killedAt);
            t.ifPresent(v -> at[0] = v);
            return t.isPresent();
          });
      worst = Math.max(worst, at[0] - killedAt);
    }

    for (String pod : List.of("empty-" + r + "a", "empty-" + r + "b", "first-" + r, "join-" + r)) {
      space.kube.pods().inNamespace(space.ns).withName(pod).delete();
    }
    space.await(Duration.ofMinutes(2), "the Mount Pod gone", () -> space.noMountPodOf(pv));
    space.removeClaimAndVolume(claim, pv);
    return String.format(
        Locale.ROOT,
        "%d | %.1f s | %.1f s | %s | %.1f s | %.1f s | %s | %.1f s",
        r,
        emptyFirst / 1000.0,
        first / 1000.0,
        delta(before, afterFirst),
        emptyJoin / 1000.0,
        join / 1000.0,
        delta(beforeJoin, afterJoin),
        worst / 1000.0);
  }

  /** Milliseconds from the create call to the pod's phase Running, polled every 50 ms. */
  private static long toRunning(NodeNamespace space, Pod pod) {
    long t0 = System.nanoTime();
    space.create(pod);
    space.await(
        Duration.ofMinutes(3),
        pod.getMetadata().getName() + " Running",
        () -> {
          Pod p =
              space.kube.pods().inNamespace(space.ns).withName(pod.getMetadata().getName()).get();
          return p != null && "Running".equals(p.getStatus().getPhase());
        },
        Duration.ofMillis(50));
    return (System.nanoTime() - t0) / 1_000_000;
  }

  private static Pod emptyDirPod(String name) {
    return new PodBuilder(NodeNamespace.app(name, "unused", "exec sleep 3600"))
        .editSpec()
        .editFirstVolume()
        .withPersistentVolumeClaim(null)
        .withNewEmptyDir()
        .endEmptyDir()
        .endVolume()
        .endSpec()
        .build();
  }

  /** The node plugin's API requests by verb and resource, since its start. */
  private static Map<String, Long> requests() throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newHttpClient()) {
      String body =
          http.send(
                  HttpRequest.newBuilder(URI.create(NODE_METRICS)).build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      Map<String, Long> counts = new TreeMap<>();
      body.lines()
          .filter(l -> l.startsWith("jfscsi_kubernetes_requests_total{request=\""))
          .forEach(
              l -> {
                String request = l.substring(l.indexOf('"') + 1, l.lastIndexOf('"'));
                long n = (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
                counts.put(request, n);
              });
      return counts;
    }
  }

  /** "N (VERB resource x, ...)": the requests between two readings, watches left out. */
  private static String delta(Map<String, Long> before, Map<String, Long> after) {
    Map<String, Long> d = new LinkedHashMap<>();
    after.forEach(
        (k, v) -> {
          long n = v - before.getOrDefault(k, 0L);
          if (n > 0 && !k.startsWith("WATCH")) {
            d.put(k, n);
          }
        });
    long total = d.values().stream().mapToLong(Long::longValue).sum();
    StringBuilder s = new StringBuilder().append(total).append(" (");
    d.forEach((k, v) -> s.append(k).append(' ').append(v).append(", "));
    if (!d.isEmpty()) {
      s.setLength(s.length() - 2);
    }
    return s.append(')').toString();
  }
}
