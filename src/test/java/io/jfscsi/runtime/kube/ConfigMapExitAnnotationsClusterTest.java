package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import io.jfscsi.testing.HostRequirements;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The annotations {@code juicefs-delete-delay} and {@code juicefs-clean-cache} of a global
 * ConfigMap patch, against the real API server: the Mount Pod stays that long after its last app
 * and its cache is cleaned, as the volume context keys do; a volume that sets those keys keeps its
 * own values.
 */
class ConfigMapExitAnnotationsClusterTest {
  static final String CONFIG =
      """
      mountPodPatch:
        - annotations: {juicefs-delete-delay: DELAY, juicefs-clean-cache: "true"}
          cacheDirs: [{type: HostPath, path: CACHE}]
      """;

  @TempDir Path dir;
  PublishingNode node;
  Path cache;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new PublishingNode(dir, "cmexit").withNodeRbac(dir.resolve("node.kubeconfig"));
    cache = Files.createDirectories(dir.resolve("cm-cache"));
    node.driver.with("management.enabled", true).with("management.port", 0);
    writeConfig(Duration.ofSeconds(8));
    node.startDriver().startKubelet();
  }

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private void writeConfig(Duration delay) {
    node.api
        .configMaps()
        .inNamespace(node.namespace)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(GlobalConfigMapClusterTest.NAME)
                .endMetadata()
                .addToData(
                    GlobalConfigWatch.KEY,
                    CONFIG
                        .replace("DELAY", delay.toSeconds() + "s")
                        .replace("CACHE", cache.toString()))
                .build())
        .createOr(existing -> existing.update());
  }

  /** The volume's one Mount Pod, once it has the file system's UUID (its cache directory). */
  private Pod runningMountPod(String claim) {
    String pv = node.staticVolume(claim, attributes(claim), List.of());
    node.appPod("app-" + claim, claim);
    node.awaitRunning("app-" + claim);
    return await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> node.onlyMountPod().orElse(null),
            p ->
                p != null
                    && pv.equals(p.getMetadata().getAnnotations().get(MountPodNames.UNIQUE_ID))
                    && p.getMetadata().getAnnotations().get(MountPodNames.UUID) != null);
  }

  private String metrics() throws Exception {
    int port = node.driver.driver().managementPort().orElseThrow();
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
              HttpResponse.BodyHandlers.ofString())
          .body();
    }
  }

  private static Map<String, String> attributes(String claim) {
    return claim.equals("own")
        ? Map.of("juicefs/mount-delete-delay", "1s", "juicefs/clean-cache", "false")
        : Map.of();
  }

  @Test
  void thePatchsDelayAndCacheCleanActUnlessTheVolumeSetsItsOwn() throws Exception {
    // The patch alone: the pod waits 8 s after its last app, then goes and its cache is cleaned.
    Pod patched = runningMountPod("patched");
    assertThat(patched.getMetadata().getAnnotations())
        .containsEntry(MountPodNames.DELETE_DELAY, "8s")
        .containsEntry(MountPodNames.CLEAN_CACHE, "true");
    Path uuidCache = cache.resolve(patched.getMetadata().getAnnotations().get(MountPodNames.UUID));
    assertThat(uuidCache).isDirectory();
    Instant appGone = Instant.now();
    node.api.pods().inNamespace(node.namespace).withName("app-patched").delete();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                node.mountPod(patched.getMetadata().getName())
                    .getMetadata()
                    .getAnnotations()
                    .containsKey(MountPodNames.DELETE_AT));
    await().atMost(Duration.ofSeconds(60)).until(() -> node.mountPods().isEmpty());
    assertThat(Duration.between(appGone, Instant.now()))
        .as("the Mount Pod stayed the patch's delete delay")
        .isGreaterThanOrEqualTo(Duration.ofSeconds(8));
    await().atMost(Duration.ofSeconds(60)).until(() -> !Files.exists(uuidCache));

    // The volume's own keys win: 1 s instead of the patch's 5 minutes, and no cache clean.
    writeConfig(Duration.ofMinutes(5));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> metrics().contains("jfscsi_config_loads_total{result=\"accepted\"} 2.0"));
    Pod own = runningMountPod("own");
    assertThat(own.getMetadata().getAnnotations()).containsEntry(MountPodNames.DELETE_DELAY, "1s");
    Path ownCache = cache.resolve(own.getMetadata().getAnnotations().get(MountPodNames.UUID));
    assertThat(ownCache).isDirectory();
    node.api.pods().inNamespace(node.namespace).withName("app-own").delete();
    await().atMost(Duration.ofSeconds(60)).until(() -> node.mountPods().isEmpty());
    Thread.sleep(2000); // a clean would run right after the pod went
    assertThat(ownCache).as("the volume's clean-cache false keeps the cache").isDirectory();
  }
}
