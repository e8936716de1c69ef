package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.StaticClaims;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The controller's webhook service as {@code --webhook} starts it, against the real API server: its
 * certificate Secret, the global ConfigMap's informer (here with {@code enableNativeSidecar:
 * true}), and one HTTPS server with both routes, each answering with its own shape; and given the
 * controller's watch of the ConfigMap, the service reads it through that watch, refuses pods while
 * it has not read the ConfigMap, and leaves it open when it stops.
 */
class SidecarWebhookServiceClusterTest {
  static KubeCluster cluster;
  static KubernetesClient k;
  static String namespace;
  static SidecarWebhookService service;
  static HttpClient http;
  static Config c;

  @BeforeAll
  static void startTheService() throws Exception {
    cluster = KubeCluster.shared();
    k = cluster.client();
    namespace = cluster.newNamespace("webhook-svc");
    k.configMaps()
        .inNamespace(namespace)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("juicefs-csi-driver-config")
                .endMetadata()
                .addToData("config.yaml", "enableNativeSidecar: true\n")
                .build())
        .create();
    StaticClaims.secret(k, namespace, "redis://redis.example:6379/1");
    StaticClaims.bound(k, namespace, "web-data");
    c =
        ConfigFactory.parseMap(
                Map.of(
                    "jfs-csi.webhook.enabled",
                    true,
                    "jfs-csi.webhook.port",
                    0,
                    "jfs-csi.webhook.configuration",
                    "no-such-configuration-" + namespace,
                    "jfs-csi.kubernetes.kubeconfig",
                    cluster.kubeconfig().toString(),
                    "jfs-csi.kubernetes.namespace",
                    namespace))
            .withFallback(ConfigFactory.defaultReference())
            .resolve()
            .getConfig("jfs-csi");
    service = SidecarWebhookService.startIfConfigured(c).orElseThrow();
    String ca =
        new String(
            Base64.getDecoder()
                .decode(
                    k.secrets()
                        .inNamespace(namespace)
                        .withName("juicefs-admission-webhook-certs")
                        .get()
                        .getData()
                        .get("ca.crt")),
            StandardCharsets.UTF_8);
    http = WebhookServerTest.trusting(ca);
  }

  @AfterAll
  static void stop() {
    if (service != null) {
      service.close();
    }
    if (k != null && namespace != null) {
      k.persistentVolumes().withName(namespace + "-web-data").delete();
      k.namespaces().withName(namespace).delete();
    }
  }

  static String patch(String path) throws Exception {
    return patch(service, path);
  }

  static String patch(SidecarWebhookService to, String path) throws Exception {
    var response = WebhookServerTest.post(http, to.port(), path, review());
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode answer = new ObjectMapper().readTree(response.body()).get("response");
    assertThat(answer.get("allowed").asBoolean()).as(response.body()).isTrue();
    return new String(
        Base64.getDecoder().decode(answer.get("patch").asString()), StandardCharsets.UTF_8);
  }

  static String review() throws IOException {
    return SidecarInjectionTest.reviewJson().replace("\"apps\"", "\"" + namespace + "\"");
  }

  @Test
  void givenTheControllersWatchTheServiceReadsTheConfigMapThroughItAndLeavesItOpen()
      throws Exception {
    // The controller's watch follows a ConfigMap of another name than the service's own would:
    // its patch in the answer shows which one the service read.
    String shared = "controller-watched-config";
    k.configMaps()
        .inNamespace(namespace)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(shared)
                .endMetadata()
                .addToData(
                    GlobalConfigWatch.KEY,
                    "mountPodPatch:\n  - env:\n      - {name: READ_THROUGH, value: shared-watch}\n")
                .build())
        .create();
    try (GlobalConfigWatch watch =
        new GlobalConfigWatch(k, namespace, shared, "controller", Runnable::run)) {
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(watch::synced);
      SidecarWebhookService second =
          SidecarWebhookService.startIfConfigured(c, Optional.of(watch)).orElseThrow();
      try {
        assertThat(patch(second, SidecarWebhook.PATH))
            .contains("READ_THROUGH")
            .contains("shared-watch");
      } finally {
        second.close();
      }
      k.configMaps()
          .inNamespace(namespace)
          .withName(shared)
          .edit(
              cm -> {
                cm.getData().put(GlobalConfigWatch.KEY, "enableNativeSidecar: true\n");
                return cm;
              });
      // Stopping the service did not close the controller's watch: it still follows the ConfigMap.
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> watch.current().switches().enableNativeSidecar());
    }
  }

  @Test
  void givenAWatchThatHasNotReadTheConfigMapTheServiceRefusesPodsWith503() throws Exception {
    // An API server that does not answer: the watch never lists its ConfigMap.
    try (KubernetesClient unreachable =
            new KubernetesClientBuilder()
                .withConfig(
                    new ConfigBuilder()
                        .withMasterUrl("https://127.0.0.1:9")
                        .withRequestRetryBackoffLimit(0)
                        .build())
                .build();
        GlobalConfigWatch unread =
            new GlobalConfigWatch(
                unreachable, namespace, "juicefs-csi-driver-config", "controller", Runnable::run)) {
      SidecarWebhookService second =
          SidecarWebhookService.startIfConfigured(c, Optional.of(unread)).orElseThrow();
      try {
        var response = WebhookServerTest.post(http, second.port(), SidecarWebhook.PATH, review());
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode answer = new ObjectMapper().readTree(response.body()).get("response");
        assertThat(answer.get("allowed").asBoolean()).isFalse();
        assertThat(answer.get("status").get("code").asInt()).isEqualTo(503);
        assertThat(answer.get("status").get("message").asString())
            .contains("has not read its global ConfigMap yet");
      } finally {
        second.close();
      }
    }
  }

  @Test
  void bothRoutesAnswerEachWithItsShapeAndTheOldApiServerKeepsPlainContainers() throws Exception {
    String plain = patch(SidecarWebhook.PATH);
    String serverless = patch(SidecarWebhook.SERVERLESS_PATH);

    assertThat(plain).contains("\"cachedir-0\"").contains("\"jfs-dir\"");
    assertThat(serverless).doesNotContain("\"cachedir-0\"").contains("\"jfs-dir\"");
    // enableNativeSidecar is on, but this API server is 1.20: no init container is patched.
    assertThat(plain).doesNotContain("/spec/initContainers").doesNotContain("restartPolicy");
    assertThat(serverless).doesNotContain("/spec/initContainers");
  }
}
