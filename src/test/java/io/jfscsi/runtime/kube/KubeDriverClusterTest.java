package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real driver on the kubernetes runtime against a real kube-apiserver (the kubelet stand-in runs
 * the Mount Pods' own commands): Mount Pods are created, shared, replaced, released after their
 * delay, read back after a driver restart, and references of gone app pods dropped. Also counts the
 * API requests of each CSI call (printed as "API requests ...").
 */
class KubeDriverClusterTest {
  @TempDir Path dir;
  KubeNode node;

  @BeforeEach
  void requireRoot() {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
  }

  @AfterEach
  void close() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private KubeNode start(Map<String, Object> overrides) throws Exception {
    node = new KubeNode(dir, overrides);
    return node.startDriver();
  }

  private static void report(String step, Map<String, Long> before, Map<String, Long> after) {
    System.out.println("API requests " + step + ": " + RequestCounter.since(before, after));
  }

  private static long writes(Map<String, Long> delta) {
    return delta.entrySet().stream()
        .filter(e -> !e.getKey().startsWith("GET") && !e.getKey().startsWith("WATCH"))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  @Test
  void publishSharesOneMountPodAndTheLastUnpublishDeletesIt() throws Exception {
    start(Map.of());
    Path t1 = node.appTarget("app-1", "pv-a");
    Path t2 = node.appTarget("app-2", "pv-a");

    Map<String, Long> r0 = node.requests();
    node.publish("pv-a", t1, Map.of());
    Map<String, Long> r1 = node.requests();
    Pod pod = node.onlyMountPod().orElseThrow();
    assertThat(MountPodWatch.runningAndReady(pod)).isTrue();
    assertThat(PodReferences.targets(pod.getMetadata().getAnnotations()))
        .containsExactly(t1.toString());
    Files.writeString(t1.resolve("hello.txt"), "through the Mount Pod");
    assertThat(Files.readString(node.fixture.data.resolve("pv-a").resolve("hello.txt")))
        .isEqualTo("through the Mount Pod");

    node.publish("pv-a", t2, Map.of());
    Map<String, Long> r2 = node.requests();
    Pod shared = node.onlyMountPod().orElseThrow();
    assertThat(shared.getMetadata().getName()).isEqualTo(pod.getMetadata().getName());
    assertThat(PodReferences.targets(shared.getMetadata().getAnnotations()))
        .containsExactlyInAnyOrder(t1.toString(), t2.toString());
    assertThat(Files.readString(t2.resolve("hello.txt"))).isEqualTo("through the Mount Pod");

    // No secret value in the pod spec; the Secret holds them.
    String yaml = Serialization.asYaml(shared);
    assertThat(yaml)
        .doesNotContain("local://")
        .doesNotContain(node.fixture.data.toString())
        .doesNotContain("testfs");
    String secretName =
        PodSource.parse(shared.getMetadata().getAnnotations().get(MountPodNames.SOURCE))
            .orElseThrow()
            .secret();
    assertThat(node.api.secrets().inNamespace(node.namespace).withName(secretName).get())
        .isNotNull();

    node.unpublish("pv-a", t2);
    Map<String, Long> r3 = node.requests();
    assertThat(
            PodReferences.targets(node.onlyMountPod().orElseThrow().getMetadata().getAnnotations()))
        .containsExactly(t1.toString());
    node.unpublish("pv-a", t1);
    await().atMost(Duration.ofSeconds(30)).until(() -> node.mountPods().isEmpty());
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                node.api.secrets().inNamespace(node.namespace).withName(secretName).get() == null);
    Map<String, Long> r4 = node.requests();

    report("first reference (publish that creates the pod)", r0, r1);
    report("another reference (publish)", r1, r2);
    report("release of a reference (unpublish)", r2, r3);
    report("last reference (unpublish, pod and Secret deleted)", r3, r4);
    // Steady state: a shared publish is one PATCH plus the claim lookup every publish makes, as
    // the Go driver's does (the PV by name, and here, where there is no such PV, the list of PVs
    // for one whose handle it is); a release is one PATCH and no read.
    assertThat(RequestCounter.since(r1, r2))
        .containsOnly(Map.entry("PATCH pods", 1L), Map.entry("GET persistentvolumes", 2L));
    assertThat(RequestCounter.since(r2, r3)).containsExactly(Map.entry("PATCH pods", 1L));
    assertThat(
            RequestCounter.since(r0, r1).entrySet().stream()
                .filter(e -> e.getKey().startsWith("GET"))
                .toList())
        .containsOnly(Map.entry("GET persistentvolumes", 2L));
    assertThat(writes(RequestCounter.since(r0, r1))).isLessThanOrEqualTo(3);
  }

  @Test
  void aDeletedMountPodIsReplacedAndItsTargetsWorkAgain() throws Exception {
    start(Map.of());
    Path t1 = node.appTarget("app-1", "pv-b");
    Path t2 = node.appTarget("app-2", "pv-b");
    node.publish("pv-b", t1, Map.of());
    node.publish("pv-b", t2, Map.of());
    Pod first = node.onlyMountPod().orElseThrow();

    node.api.pods().inNamespace(node.namespace).withName(first.getMetadata().getName()).delete();
    Pod second = node.awaitReadyMountPod(first.getMetadata().getName());
    await()
        .atMost(Duration.ofSeconds(40))
        .untilAsserted(
            () -> {
              assertThat(node.mountPods())
                  .extracting(p -> p.getMetadata().getName())
                  .containsExactly(second.getMetadata().getName());
              Pod now = node.onlyMountPod().orElseThrow();
              assertThat(PodReferences.targets(now.getMetadata().getAnnotations()))
                  .containsExactlyInAnyOrder(t1.toString(), t2.toString());
              Files.writeString(t1.resolve("after.txt"), "again");
              assertThat(Files.readString(t2.resolve("after.txt"))).isEqualTo("again");
            });
  }

  @Test
  void theLastUnpublishDeletesThePodAfterTheDelay() throws Exception {
    start(Map.of());
    Path t1 = node.appTarget("app-1", "pv-d");
    Map<String, String> delayed = Map.of("juicefs/mount-delete-delay", "4s");
    node.publish("pv-d", t1, delayed);
    Pod pod = node.onlyMountPod().orElseThrow();
    assertThat(pod.getMetadata().getAnnotations()).containsEntry("juicefs-delete-delay", "4s");
    node.unpublish("pv-d", t1);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                node.onlyMountPod()
                    .map(p -> p.getMetadata().getAnnotations().containsKey("juicefs-delete-at"))
                    .orElse(false));
    long since = System.nanoTime();
    await().atMost(Duration.ofSeconds(30)).until(() -> node.mountPods().isEmpty());
    assertThat(Duration.ofNanos(System.nanoTime() - since)).isGreaterThan(Duration.ofSeconds(2));
  }

  @Test
  void aRestartedDriverReadsTheReferencesBack() throws Exception {
    start(Map.of());
    Path t1 = node.appTarget("app-1", "pv-e");
    Path t2 = node.appTarget("app-2", "pv-e");
    node.publish("pv-e", t1, Map.of());
    node.publish("pv-e", t2, Map.of());
    Pod before = node.onlyMountPod().orElseThrow();

    node.stopDriver();
    node.startDriver();
    Map<String, Long> r0 = node.requests();
    // Give the recovered actor time to adopt and save; nothing may change.
    Thread.sleep(3000);
    Pod after = node.onlyMountPod().orElseThrow();
    assertThat(after.getMetadata().getName()).isEqualTo(before.getMetadata().getName());
    assertThat(PodReferences.targets(after.getMetadata().getAnnotations()))
        .containsExactlyInAnyOrder(t1.toString(), t2.toString());
    Files.writeString(t1.resolve("restart.txt"), "still bound");
    assertThat(Files.readString(t2.resolve("restart.txt"))).isEqualTo("still bound");
    report(
        "after a driver restart (start, informer list/watch, Secret read, adoption)",
        Map.of(),
        node.requests());
    assertThat(RequestCounter.since(r0, node.requests())).doesNotContainKey("POST pods");

    node.unpublish("pv-e", t1);
    node.unpublish("pv-e", t2);
    await().atMost(Duration.ofSeconds(30)).until(() -> node.mountPods().isEmpty());
  }

  @Test
  void aReferenceWhoseAppPodIsGoneIsDropped() throws Exception {
    start(Map.of("reference-check-interval", "1s", "kubernetes.pod-gone-grace", "1s"));
    Path t1 = node.appTarget("app-1", "pv-g");
    Path t2 = node.appTarget("app-2", "pv-g");
    node.publish("pv-g", t1, Map.of());
    node.publish("pv-g", t2, Map.of());
    node.api.pods().inNamespace(node.namespace).withName("app-2").withGracePeriod(0).delete();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(
                        PodReferences.targets(
                            node.onlyMountPod().orElseThrow().getMetadata().getAnnotations()))
                    .containsExactly(t1.toString()));
  }

  @Test
  void cleanCacheRemovesOnlyThisVolumesCacheThroughAJobOnTheNode() throws Exception {
    start(Map.of());
    Path cache = Files.createDirectories(dir.resolve("cache"));
    Path other =
        Files.createDirectories(
            cache.resolve("0b7a1c2e-0000-4000-8000-000000000001").resolve("raw"));
    Files.writeString(other.resolve("block"), "another volume's cache");
    Files.writeString(cache.resolve("keep.txt"), "not a volume");
    Path t1 = node.appTarget("app-1", "pv-k");
    node.publish("pv-k", t1, Map.of("juicefs/clean-cache", "true"), List.of("cache-dir=" + cache));
    String uuid =
        node.onlyMountPod().orElseThrow().getMetadata().getAnnotations().get(MountPodNames.UUID);
    assertThat(uuid).isNotBlank();
    assertThat(cache.resolve(uuid).resolve("raw").resolve("chunks")).isDirectory();

    node.unpublish("pv-k", t1);
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(node.mountPods()).isEmpty();
              assertThat(cache.resolve(uuid)).doesNotExist();
            });
    assertThat(other.resolve("block")).hasContent("another volume's cache");
    assertThat(cache.resolve("keep.txt")).hasContent("not a volume");
    // The Job succeeded and was deleted by the driver.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                node.api
                    .batch()
                    .v1()
                    .jobs()
                    .inNamespace(node.namespace)
                    .list()
                    .getItems()
                    .isEmpty());
  }
}
