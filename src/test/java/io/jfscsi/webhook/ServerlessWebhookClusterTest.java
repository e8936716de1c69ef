package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.SidecarWebhookConfigurations;
import io.jfscsi.testing.StaticClaims;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The serverless webhook ({@value SidecarWebhook#SERVERLESS_PATH}) registered with the real
 * kube-apiserver under the Go driver's namespace label for it, served with the plain route by one
 * server as the controller serves them, with {@code enableNativeSidecar} on: the API server calls
 * the serverless route, and the pods it stores have the serverless shapes and plain containers (it
 * is 1.20, too old for native sidecars). No pod runs: there is no VCI or CCI here.
 */
class ServerlessWebhookClusterTest {
  static KubeCluster cluster;
  static KubernetesClient k;
  static WebhookServer server;
  static String configName;
  static String namespace;
  static final AtomicInteger plainCalls = new AtomicInteger();
  static final AtomicInteger serverlessCalls = new AtomicInteger();

  @BeforeAll
  static void registerTheServerlessWebhook() throws Exception {
    cluster = KubeCluster.shared();
    k = cluster.client();
    namespace = cluster.newNamespace("serverless");
    k.namespaces()
        .withName(namespace)
        .edit(
            n -> {
              n.getMetadata().getLabels().put(SidecarInjection.SERVERLESS_NAMESPACE_LABEL, "true");
              n.getMetadata().getLabels().put("jfs-csi.io/serverless-test", namespace);
              return n;
            });
    WebhookTls tls = SidecarWebhookService.shared(k, namespace, "juicefs-admission-webhook");
    NativeSidecars nativeOn = new NativeSidecars(() -> true, k::getKubernetesVersion);
    SidecarWebhook plain =
        new SidecarWebhook(k, "csi.juicefs.com", SidecarInjectionTest.CONFIG, false, nativeOn);
    SidecarWebhook serverless =
        new SidecarWebhook(k, "csi.juicefs.com", SidecarInjectionTest.CONFIG, true, nativeOn);
    server =
        WebhookServer.start(
            new InetSocketAddress("127.0.0.1", 0),
            tls,
            Map.of(
                SidecarWebhook.PATH,
                body -> {
                  plainCalls.incrementAndGet();
                  return plain.handle(body);
                },
                SidecarWebhook.SERVERLESS_PATH,
                body -> {
                  serverlessCalls.incrementAndGet();
                  return serverless.handle(body);
                }));
    configName = "jfs-csi-serverless-" + UUID.randomUUID().toString().substring(0, 8);
    k.admissionRegistration()
        .v1()
        .mutatingWebhookConfigurations()
        .resource(
            SidecarWebhookConfigurations.serverless(
                configName, server.port(), Map.of("jfs-csi.io/serverless-test", namespace)))
        .create();
    assertThat(SidecarWebhookService.patchCaBundle(k, configName, tls.caBundlePem().orElseThrow()))
        .isTrue();
    StaticClaims.secret(k, namespace, "redis://redis.example:6379/1");
    claim("data");
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (serverlessCalls.get() == 0 && System.nanoTime() < deadline) {
      try {
        k.pods().inNamespace(namespace).resource(app("probe", Map.of(), Map.of())).create();
        k.pods().inNamespace(namespace).withName("probe").withGracePeriod(0).delete();
      } catch (KubernetesClientException e) {
        // the webhook answered
      }
      Thread.sleep(500);
    }
    HostRequirements.require(
        serverlessCalls.get() > 0,
        "a kube-apiserver with MutatingAdmissionWebhook (bin/kube-up enables it; a control plane"
            + " started before that must be restarted: bin/kube-up --down when no one uses it)");
  }

  static void claim(String name) {
    StaticClaims.bound(k, namespace, name);
  }

  @AfterAll
  static void unregister() {
    if (k != null && configName != null) {
      k.admissionRegistration().v1().mutatingWebhookConfigurations().withName(configName).delete();
      k.persistentVolumes().withName(namespace + "-data").delete();
      k.namespaces().withName(namespace).delete();
    }
    if (server != null) {
      server.close();
    }
  }

  static Pod app(String name, Map<String, String> labels, Map<String, String> annotations) {
    return SidecarWebhookClusterTest.app(name, "data", labels)
        .edit()
        .editMetadata()
        .withAnnotations(annotations)
        .endMetadata()
        .build();
  }

  static Volume data(Pod pod) {
    return pod.getSpec().getVolumes().stream()
        .filter(v -> v.getName().equals("data"))
        .findFirst()
        .orElseThrow();
  }

  static List<String> hostPaths(Pod pod) {
    return pod.getSpec().getVolumes().stream()
        .filter(v -> v.getHostPath() != null)
        .map(Volume::getName)
        .toList();
  }

  @Test
  void aPodIsStoredWithTheGenericServerlessShapeAndPlainContainersOnThisOldApiServer() {
    assertThat(k.getKubernetesVersion().getMinor()).startsWith("20");
    Pod stored = k.pods().inNamespace(namespace).resource(app("web", Map.of(), Map.of())).create();

    assertThat(serverlessCalls).hasPositiveValue();
    assertThat(plainCalls).as("only the serverless route is registered").hasValue(0);
    assertThat(stored.getMetadata().getLabels()).containsEntry(SidecarInjection.DONE_LABEL, "true");
    assertThat(stored.getSpec().getInitContainers()).isNullOrEmpty();
    List<Container> containers = stored.getSpec().getContainers();
    assertThat(containers).extracting(Container::getName).containsExactly("jfs-mount", "app");
    assertThat(containers.getFirst().getSecurityContext().getPrivileged()).isTrue();
    assertThat(hostPaths(stored)).containsExactlyInAnyOrder("data", "jfs-dir");
    assertThat(data(stored).getHostPath().getPath())
        .startsWith("/var/lib/juicefs/volume/" + namespace + "-data-");
  }

  @Test
  void aPodForVciIsStoredWithAnEmptyDirItsPropagationAnnotationsAndNoHostPath() {
    Pod stored =
        k.pods()
            .inNamespace(namespace)
            .resource(app("vci", Map.of(), Map.of(SidecarVariant.VCI_KEY, "enforce")))
            .create();

    assertThat(hostPaths(stored)).isEmpty();
    assertThat(data(stored).getEmptyDir()).isNotNull();
    Container client = stored.getSpec().getContainers().getFirst();
    assertThat(client.getName()).isEqualTo("jfs-mount-data");
    assertThat(client.getSecurityContext().getPrivileged()).isNull();
    assertThat(
            stored
                .getSpec()
                .getContainers()
                .get(1)
                .getVolumeMounts()
                .getFirst()
                .getMountPropagation())
        .isEqualTo("HostToContainer");
    assertThat(stored.getMetadata().getAnnotations())
        .containsKey(ServerlessShape.VCI_PROPAGATION_SWITCH)
        .hasEntrySatisfying(
            ServerlessShape.VCI_PROPAGATION,
            v -> assertThat(v).contains("\"container\":\"jfs-mount-data\"").contains("/jfs/"));
  }

  @Test
  void aPodForCciIsStoredWithCcisCsiVolumeAndNoHostPath() {
    Pod stored =
        k.pods()
            .inNamespace(namespace)
            .resource(app("cci", Map.of(SidecarVariant.CCI_KEY, "enforce"), Map.of()))
            .create();

    assertThat(hostPaths(stored)).isEmpty();
    assertThat(data(stored).getCsi().getDriver()).isEqualTo(ServerlessShape.CCI_DRIVER);
    assertThat(data(stored).getCsi().getVolumeAttributes()).containsKey("mountpoint");
    assertThat(
            stored
                .getSpec()
                .getContainers()
                .getFirst()
                .getSecurityContext()
                .getCapabilities()
                .getAdd())
        .containsExactly("SYS_ADMIN", "MKNOD");
  }
}
