package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import io.jfscsi.testing.HostRequirements;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Go driver's global ConfigMap against the real API server: read at start, watched, applied to
 * new Mount Pods only (a running one is neither changed nor left for a new one), and a version that
 * does not parse is refused while the last good one stays in force; all with the node plugin's
 * manifest RBAC.
 */
class GlobalConfigMapClusterTest {
  static final String NAME = "juicefs-csi-driver-config";

  static final String V1 =
      """
      enableSetQuota: false
      mountPodPatch:
        - labels: {cm: v1}
          annotations: {mount-point: "${MOUNT_POINT}"}
          env: [{name: DEMO, value: "v1 ${VOLUME_ID} ${SUB_PATH}"}]
          terminationGracePeriodSeconds: 7
          mountOptions: [cache-size=123]
        - pvcSelector: {matchLabels: {tier: gold}}
          labels: {cm: v1-gold}
      """;

  static final String V2 =
      """
      mountPodPatch:
        - labels: {cm: v2}
          env: [{name: DEMO, value: "v2 ${VOLUME_ID}"}]
          cacheDirs: [{type: HostPath, path: CACHE}]
      """;

  static final String BROKEN =
      """
      mountPodPatch:
        - labels: {cm: broken
          hostPID: true
      """;

  @TempDir Path dir;
  PublishingNode node;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new PublishingNode(dir, "globalcm").withNodeRbac(dir.resolve("node.kubeconfig"));
    node.driver.with("management.enabled", true).with("management.port", 0);
    writeConfig(V1);
    node.startDriver().startKubelet();
  }

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private void writeConfig(String yaml) {
    node.api
        .configMaps()
        .inNamespace(node.namespace)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(NAME)
                .endMetadata()
                .addToData(GlobalConfigWatch.KEY, yaml)
                .build())
        .createOr(existing -> existing.update());
  }

  private Pod mountPodOf(String pv) {
    return await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                node.mountPods().stream()
                    .filter(
                        p ->
                            MountPodNames.volumeLabel(pv)
                                .equals(
                                    p.getMetadata().getLabels().get(MountPodNames.VOLUME_ID_LABEL)))
                    .toList(),
            pods -> pods.size() == 1)
        .getFirst();
  }

  private static String env(Pod pod, String name) {
    Container c = pod.getSpec().getContainers().getFirst();
    return c.getEnv().stream()
        .filter(e -> e.getName().equals(name))
        .map(EnvVar::getValue)
        .findFirst()
        .orElse(null);
  }

  private String get(String path) throws Exception {
    int port = node.driver.driver().managementPort().orElseThrow();
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  @Test
  void aChangeReachesNewMountPodsOnlyAndARefusedOneKeepsTheLastGood() throws Exception {
    // Read at start: the first Mount Pod has the patch, the claim's entry over the global one.
    String gold = node.staticVolume("gold", Map.of("subPath", "g"), List.of());
    node.api
        .persistentVolumeClaims()
        .inNamespace(node.namespace)
        .withName("gold")
        .edit(
            c -> {
              c.getMetadata().setLabels(Map.of("tier", "gold"));
              return c;
            });
    node.appPod("app-1", "gold");
    node.awaitRunning("app-1");
    Pod first = mountPodOf(gold);
    assertThat(first.getMetadata().getLabels()).containsEntry("cm", "v1-gold");
    String mountPath = first.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH);
    assertThat(first.getMetadata().getAnnotations()).containsEntry("mount-point", mountPath);
    assertThat(env(first, "DEMO")).isEqualTo("v1 " + gold + " g");
    assertThat(first.getSpec().getTerminationGracePeriodSeconds()).isEqualTo(7L);
    assertThat(first.getSpec().getContainers().getFirst().getCommand().get(2))
        .contains("--cache-size=123");

    // Changed: a new volume's Mount Pod gets the new patch; the running one is untouched, and a
    // new app pod of its volume still shares it (the patch is not part of the settings hash).
    Path cache = java.nio.file.Files.createDirectories(dir.resolve("cm-cache"));
    writeConfig(V2.replace("CACHE", cache.toString()));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> get("/metrics").contains("jfscsi_config_loads_total{result=\"accepted\"} 2.0"));
    String other = node.staticVolume("other", Map.of(), List.of());
    node.appPod("app-2", "other");
    node.awaitRunning("app-2");
    Pod second = mountPodOf(other);
    assertThat(second.getMetadata().getLabels()).containsEntry("cm", "v2");
    assertThat(env(second, "DEMO")).isEqualTo("v2 " + other);
    node.appPod("app-3", "gold");
    node.awaitRunning("app-3");
    Pod still = mountPodOf(gold);
    assertThat(still.getMetadata().getUid()).isEqualTo(first.getMetadata().getUid());
    assertThat(still.getMetadata().getLabels()).containsEntry("cm", "v1-gold");
    assertThat(env(still, "DEMO")).isEqualTo("v1 " + gold + " g");
    assertThat(still.getSpec()).isEqualTo(first.getSpec());
    assertThat(still.getStatus().getContainerStatuses().getFirst().getRestartCount()).isZero();
    assertThat(PublishingNode.references(still)).hasSize(2);

    // Refused: the last good version stays in force; the log, an Event, the metrics and /ready
    // say so, /ready still 200.
    writeConfig(BROKEN);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              String metrics = get("/metrics");
              assertThat(metrics).contains("jfscsi_config_last_load_success 0.0");
              assertThat(metrics).contains("jfscsi_config_loads_total{result=\"refused\"} 1.0");
            });
    String ready = get("/ready");
    assertThat(ready)
        .startsWith("OK\nwarning: the ConfigMap " + node.namespace + "/" + NAME + " is refused")
        .containsPattern("config.yaml line \\d+, column \\d+: ")
        .contains("stays in force");
    List<Event> events =
        await()
            .atMost(Duration.ofSeconds(20))
            .until(
                () ->
                    node.api.v1().events().inNamespace(node.namespace).list().getItems().stream()
                        .filter(e -> NAME.equals(e.getInvolvedObject().getName()))
                        .toList(),
                l -> !l.isEmpty());
    assertThat(events.getFirst().getReason()).isEqualTo("ConfigRefused");
    assertThat(events.getFirst().getType()).isEqualTo("Warning");
    assertThat(events.getFirst().getMessage()).contains("line ").contains(node.node);
    String third = node.staticVolume("third", Map.of("juicefs/clean-cache", "true"), List.of());
    node.appPod("app-4", "third");
    node.awaitRunning("app-4");
    Pod thirdPod = mountPodOf(third);
    assertThat(thirdPod.getMetadata().getLabels()).containsEntry("cm", "v2");
    assertThat(thirdPod.getSpec().getContainers().getFirst().getCommand().get(2))
        .contains("--cache-dir=" + cache);
    String uuid =
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () -> mountPodOf(third).getMetadata().getAnnotations().get(MountPodNames.UUID),
                u -> u != null && !u.isBlank());
    assertThat(cache.resolve(uuid)).isDirectory();

    // Fixed again: in force, the metric says so, /ready has no warning.
    writeConfig(V1);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(get("/ready")).isEqualTo("OK"));
    assertThat(get("/metrics")).contains("jfscsi_config_last_load_success 1.0");

    // The ConfigMap's cache directory is the one a clean empties when the last pod goes (the
    // other volumes are of the same file system, so their clients go first: a cache in use by
    // another Mount Pod is left in place).
    for (String app : List.of("app-1", "app-2", "app-3")) {
      node.api.pods().inNamespace(node.namespace).withName(app).delete();
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> node.mountPods().size() == 1);
    node.api.pods().inNamespace(node.namespace).withName("app-4").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> assertThat(cache.resolve(uuid)).doesNotExist());

    assertThat(node.forbiddenCalls()).as("calls the manifest does not allow").isEmpty();
  }
}
