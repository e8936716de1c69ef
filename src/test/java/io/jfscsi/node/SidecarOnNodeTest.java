package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.webhook.SidecarInjection;
import io.jfscsi.webhook.SidecarWebhook;
import io.jfscsi.webhook.SidecarWebhookService;
import io.jfscsi.webhook.WebhookServer;
import io.jfscsi.webhook.WebhookTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Sidecar mode under a real kubelet: the driver's webhook (served from this test, registered with
 * the node's API server) injects the client into an app pod in a labelled namespace; kubelet runs
 * the client first (the stand-in's bindfs, formatted and mounted by the Mount Pod's command), holds
 * the app back until the postStart hook sees the mount, and the app writes and reads a file through
 * it that lands in the stand-in's store on the host. No Mount Pod is made.
 */
class SidecarOnNodeTest {
  private static NodeNamespace space;
  private static WebhookServer server;
  private static String configName;

  @BeforeAll
  static void up() throws Exception {
    space = NodeNamespace.create("node-sidecar");
    space
        .kube
        .namespaces()
        .withName(space.ns)
        .edit(
            n -> {
              n.getMetadata().setLabels(Map.of(SidecarInjection.NAMESPACE_LABEL, "true"));
              return n;
            });
    WebhookTls tls = WebhookTls.selfMade(List.of("localhost"), List.of("127.0.0.1"));
    KubeRuntimeConfig config =
        new KubeRuntimeConfig(
            "sidecar",
            space.ns,
            NodeNamespace.MOUNT_IMAGE,
            "",
            "",
            Duration.ofSeconds(60),
            Duration.ofSeconds(5),
            Path.of("/var/lib/juicefs/volume"));
    SidecarWebhook handler = new SidecarWebhook(space.kube, "csi.juicefs.com", config);
    server = WebhookServer.start(new InetSocketAddress("127.0.0.1", 0), tls, handler::handle);
    configName = space.ns + "-sidecar";
    space
        .kube
        .admissionRegistration()
        .v1()
        .mutatingWebhookConfigurations()
        .resource(
            new MutatingWebhookConfigurationBuilder()
                .withNewMetadata()
                .withName(configName)
                .endMetadata()
                .addNewWebhook()
                .withName("sidecar.inject.juicefs.com")
                .withAdmissionReviewVersions("v1")
                .withNewClientConfig()
                .withUrl("https://127.0.0.1:" + server.port() + SidecarWebhook.PATH)
                .endClientConfig()
                .addNewRule()
                .withOperations("CREATE")
                .withApiGroups("")
                .withApiVersions("v1")
                .withResources("pods")
                .endRule()
                .withNewNamespaceSelector()
                .addToMatchLabels(SidecarInjection.NAMESPACE_LABEL, "true")
                .endNamespaceSelector()
                .withFailurePolicy("Fail")
                .withSideEffects("NoneOnDryRun")
                .endWebhook()
                .build())
        .create();
    assertThat(
            SidecarWebhookService.patchCaBundle(
                space.kube, configName, tls.caBundlePem().orElseThrow()))
        .isTrue();
    Thread.sleep(2000); // the API server's webhook informer
  }

  @AfterAll
  static void down() throws IOException {
    if (space != null) {
      space
          .kube
          .admissionRegistration()
          .v1()
          .mutatingWebhookConfigurations()
          .withName(configName)
          .delete();
      space.close();
    }
    if (server != null) {
      server.close();
    }
  }

  /** The app container's log (the pod has two containers now). */
  private static String appLog() {
    try {
      return space.kube.pods().inNamespace(space.ns).withName("app").inContainer("app").getLog();
    } catch (RuntimeException e) {
      return "";
    }
  }

  @Test
  void anInjectedAppPodReadsAndWritesThroughItsSidecarsMount() throws Exception {
    String pv = space.staticVolume("data", Map.of("subPath", "team"), List.of());
    Pod app =
        NodeNamespace.app(
            "app",
            "data",
            "echo through-the-sidecar > /data/out && cat /data/out && exec sleep 3600",
            null,
            null);
    space.create(app);
    Pod stored = space.kube.pods().inNamespace(space.ns).withName("app").get();
    assertThat(stored.getSpec().getContainers())
        .extracting(c -> c.getName())
        .containsExactly("jfs-mount", "app");

    space.awaitRunning("app", Duration.ofMinutes(3));
    space.await(
        Duration.ofSeconds(60), "the app's output", () -> appLog().contains("through-the-sidecar"));
    Pod running = space.kube.pods().inNamespace(space.ns).withName("app").get();
    assertThat(running.getStatus().getContainerStatuses())
        .allSatisfy(s -> assertThat(s.getReady()).as(s.getName()).isTrue())
        .extracting(ContainerStatus::getName)
        .containsExactlyInAnyOrder("jfs-mount", "app");
    // Written through the client's mount: it is in the stand-in's store, in the volume's subPath.
    Path written = space.dataOf(pv).resolve("team/out");
    assertThat(written).exists();
    assertThat(Files.readString(written)).isEqualTo("through-the-sidecar\n");
    // No Mount Pod: the client is the pod's own.
    assertThat(space.noMountPodOf(pv)).isTrue();
  }
}
