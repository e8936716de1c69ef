package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.StaticClaims;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The controller's webhook service as {@code --webhook} starts it, against the real API server: its
 * certificate Secret, the global ConfigMap's informer (here with {@code enableNativeSidecar:
 * true}), and one HTTPS server with both routes, each answering with its own shape.
 */
class SidecarWebhookServiceClusterTest {
  static KubeCluster cluster;
  static KubernetesClient k;
  static String namespace;
  static SidecarWebhookService service;
  static HttpClient http;

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
    Config c =
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
    String review = SidecarInjectionTest.reviewJson().replace("\"apps\"", "\"" + namespace + "\"");
    var response = WebhookServerTest.post(http, service.port(), path, review);
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode answer = new ObjectMapper().readTree(response.body()).get("response");
    assertThat(answer.get("allowed").asBoolean()).as(response.body()).isTrue();
    return new String(
        Base64.getDecoder().decode(answer.get("patch").asString()), StandardCharsets.UTF_8);
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
