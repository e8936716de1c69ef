package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.SidecarWebhookConfigurations;
import io.jfscsi.testing.StaticClaims;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The sidecar webhook registered with the real kube-apiserver: a MutatingWebhookConfiguration whose
 * URL is this test's HTTPS server (the driver's {@link WebhookServer} and {@link SidecarWebhook}),
 * its caBundle written as the controller writes it, and pods created through the API. What is
 * checked is the pod the API server stored.
 */
class SidecarWebhookClusterTest {
  static final String METAURL_PASSWORD = "meta-pw-never-in-a-pod";
  static KubeCluster cluster;
  static KubernetesClient k;
  static WebhookServer server;
  static String configName;
  static String labelled;
  static String unlabelled;
  static final AtomicInteger calls = new AtomicInteger();
  static final String GLOBAL_CONFIG = "juicefs-csi-driver-config";
  static GlobalConfigWatch globalConfig;

  /** The Go driver's config.yaml: claims labelled tier=gold get their own client shape. */
  static final String PATCH =
      """
      mountPodPatch:
        - pvcSelector:
            matchLabels: {tier: gold}
          ceMountImage: juicedata/mount:ce-v1.3.1-gold
          env:
            - {name: CACHE_TIER, value: "gold for ${VOLUME_ID}"}
          resources:
            requests: {cpu: 250m, memory: 512Mi}
            limits: {cpu: "2", memory: 2Gi}
          lifecycle:
            preStop:
              exec:
                command: ["sh", "-c", "+e", "umount -l ${MOUNT_POINT}; exit 0"]
          labels: {mount-tier: gold}
          terminationGracePeriodSeconds: 600
      """;

  @BeforeAll
  static void registerTheWebhook() throws Exception {
    cluster = KubeCluster.shared();
    k = cluster.client();
    labelled = cluster.newNamespace("sidecar-on");
    unlabelled = cluster.newNamespace("sidecar-off");
    k.namespaces()
        .withName(labelled)
        .edit(
            n -> {
              n.getMetadata().getLabels().put(SidecarInjection.NAMESPACE_LABEL, "true");
              return n;
            });
    // The certificate as the controller gets it without --webhook-cert-dir: made once, kept in a
    // Secret that a second replica (the second call) reads instead of making its own.
    WebhookTls tls = SidecarWebhookService.shared(k, labelled, "juicefs-admission-webhook");
    WebhookTls again = SidecarWebhookService.shared(k, labelled, "juicefs-admission-webhook");
    assertThat(again.caBundlePem()).isEqualTo(tls.caBundlePem());
    // The global ConfigMap as the controller finds it, read through the same watch.
    k.configMaps()
        .inNamespace(labelled)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(GLOBAL_CONFIG)
                .endMetadata()
                .addToData(GlobalConfigWatch.KEY, PATCH)
                .build())
        .create();
    globalConfig = new GlobalConfigWatch(k, labelled, GLOBAL_CONFIG, "webhook", Runnable::run);
    Awaitility.await().atMost(Duration.ofSeconds(20)).until(globalConfig::synced);
    SidecarWebhook handler =
        new SidecarWebhook(
            k,
            "csi.juicefs.com",
            SidecarInjectionTest.CONFIG,
            false,
            NativeSidecars.OFF,
            Optional.of(globalConfig));
    server =
        WebhookServer.start(
            new InetSocketAddress("127.0.0.1", 0),
            tls,
            body -> {
              calls.incrementAndGet();
              return handler.handle(body);
            });

    configName = "jfs-csi-test-" + UUID.randomUUID().toString().substring(0, 8);
    MutatingWebhookConfiguration config =
        SidecarWebhookConfigurations.local(
            configName, server.port(), Map.of("jfs-csi.io/sidecar-test", labelled));
    k.namespaces()
        .withName(labelled)
        .edit(
            n -> {
              n.getMetadata().getLabels().put("jfs-csi.io/sidecar-test", labelled);
              return n;
            });
    k.admissionRegistration().v1().mutatingWebhookConfigurations().resource(config).create();
    assertThat(SidecarWebhookService.patchCaBundle(k, configName, tls.caBundlePem().orElseThrow()))
        .isTrue();

    for (String ns : List.of(labelled, unlabelled)) {
      StaticClaims.secret(k, ns, "redis://:" + METAURL_PASSWORD + "@redis.example:6379/1");
      claim(ns, "data", List.of());
      claim(ns, "fast", List.of("writeback"));
    }
    claim(labelled, "gold", List.of(), Map.of("tier", "gold"));
    claim(labelled, "silver", List.of(), Map.of("tier", "silver"));
    // The API server takes a moment to see a new webhook configuration: a probe pod (refused,
    // its claim is missing) shows when it calls. A control plane started before bin/kube-up
    // enabled admission webhooks never calls: say so instead of failing every test.
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (calls.get() == 0 && System.nanoTime() < deadline) {
      try {
        k.pods().inNamespace(labelled).resource(app("probe", "no-such-claim", Map.of())).create();
        k.pods().inNamespace(labelled).withName("probe").withGracePeriod(0).delete();
      } catch (KubernetesClientException e) {
        // refused by the webhook: it is called
      }
      Thread.sleep(500);
    }
    HostRequirements.require(
        calls.get() > 0,
        "a kube-apiserver with MutatingAdmissionWebhook (bin/kube-up enables it; a control plane"
            + " started before that must be restarted: bin/kube-up --down when no one uses it)");
  }

  /** A static JuiceFS PV bound to claim {@code name} in {@code ns}. */
  static void claim(String ns, String name, List<String> mountOptions) {
    claim(ns, name, mountOptions, Map.of());
  }

  static void claim(
      String ns, String name, List<String> mountOptions, Map<String, String> claimLabels) {
    StaticClaims.bound(k, ns, name, mountOptions, claimLabels, Map.of("subPath", "apps/" + name));
  }

  @AfterAll
  static void unregister() {
    if (k != null && configName != null) {
      k.admissionRegistration().v1().mutatingWebhookConfigurations().withName(configName).delete();
      for (String ns : List.of(labelled, unlabelled)) {
        k.persistentVolumes().withName(ns + "-data").delete();
        k.persistentVolumes().withName(ns + "-fast").delete();
        k.namespaces().withName(ns).delete();
      }
      k.persistentVolumes().withName(labelled + "-gold").delete();
      k.persistentVolumes().withName(labelled + "-silver").delete();
    }
    if (globalConfig != null) {
      globalConfig.close();
    }
    if (server != null) {
      server.close();
    }
  }

  static Pod app(String name, String claim, Map<String, String> labels) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage("busybox:1.36")
        .withCommand("sh", "-c", "cat /data/hello")
        .addNewVolumeMount()
        .withName("data")
        .withMountPath("/data")
        .endVolumeMount()
        .endContainer()
        .addNewVolume()
        .withName("data")
        .withNewPersistentVolumeClaim()
        .withClaimName(claim)
        .endPersistentVolumeClaim()
        .endVolume()
        .endSpec()
        .build();
  }

  @Test
  void aPodInALabelledNamespaceIsStoredWithItsClientAndItsVolumeOnTheMount() {
    Pod stored = k.pods().inNamespace(labelled).resource(app("web", "data", Map.of())).create();

    assertThat(stored.getMetadata().getLabels()).containsEntry(SidecarInjection.DONE_LABEL, "true");
    List<Container> containers = stored.getSpec().getContainers();
    assertThat(containers).extracting(Container::getName).containsExactly("jfs-mount", "app");
    assertThat(containers.getFirst().getSecurityContext().getPrivileged()).isTrue();
    assertThat(containers.getFirst().getLifecycle().getPostStart().getExec()).isNotNull();
    var data =
        stored.getSpec().getVolumes().stream()
            .filter(v -> v.getName().equals("data"))
            .findFirst()
            .orElseThrow();
    assertThat(data.getPersistentVolumeClaim()).isNull();
    assertThat(data.getHostPath().getPath())
        .startsWith("/var/lib/juicefs/volume/" + labelled + "-data-")
        .endsWith("/apps/data");
    assertThat(k.getKubernetesSerialization().asJson(stored)).doesNotContain(METAURL_PASSWORD);

    Secret secret = k.secrets().inNamespace(labelled).withName("data-jfs-secret").get();
    assertThat(secret).isNotNull();
    assertThat(secret.getMetadata().getOwnerReferences().getFirst().getName()).isEqualTo("data");
    assertThat(
            k.persistentVolumeClaims()
                .inNamespace(labelled)
                .withName("data")
                .get()
                .getMetadata()
                .getUid())
        .isEqualTo(secret.getMetadata().getOwnerReferences().getFirst().getUid());
  }

  @Test
  void aPodInAnUnlabelledNamespaceOrThatOptsOutIsStoredAsPosted() {
    Pod off = k.pods().inNamespace(unlabelled).resource(app("web", "data", Map.of())).create();
    assertThat(off.getSpec().getContainers()).extracting(Container::getName).containsExactly("app");
    assertThat(off.getSpec().getVolumes().getFirst().getPersistentVolumeClaim().getClaimName())
        .isEqualTo("data");
    assertThat(k.secrets().inNamespace(unlabelled).withName("data-jfs-secret").get()).isNull();

    Pod optedOut =
        k.pods()
            .inNamespace(labelled)
            .resource(app("opted-out", "data", Map.of(SidecarInjection.DISABLE_LABEL, "true")))
            .create();
    assertThat(optedOut.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("app");
  }

  @Test
  void aClaimWithASettingTheDriverRefusesRefusesThePodWithItsReason() {
    assertThatThrownBy(
            () ->
                k.pods().inNamespace(labelled).resource(app("refused", "fast", Map.of())).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("denied the request")
        .hasMessageContaining("JuiceFS claim " + labelled + "/fast")
        .hasMessageContaining("writeback")
        .message()
        .doesNotContain(METAURL_PASSWORD);
    assertThat(k.pods().inNamespace(labelled).withName("refused").get()).isNull();
    assertThat(k.secrets().inNamespace(labelled).withName("fast-jfs-secret").get()).isNull();
  }

  @Test
  void aPodOfAMissingClaimIsRefusedNotAdmittedBlind() {
    assertThatThrownBy(
            () ->
                k.pods()
                    .inNamespace(labelled)
                    .resource(app("orphan", "nothing", Map.of()))
                    .create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("claim " + labelled + "/nothing does not exist");
  }

  @Test
  void theGlobalConfigMapsEntryForTheClaimShapesTheStoredSidecar() {
    Pod stored =
        k.pods().inNamespace(labelled).resource(app("gold-app", "gold", Map.of())).create();

    Container client = stored.getSpec().getContainers().getFirst();
    assertThat(client.getName()).isEqualTo("jfs-mount");
    assertThat(client.getImage()).isEqualTo("juicedata/mount:ce-v1.3.1-gold");
    assertThat(client.getEnv())
        .filteredOn(e -> e.getName().equals("CACHE_TIER"))
        .extracting(EnvVar::getValue)
        .containsExactly("gold for " + labelled + "-gold");
    assertThat(client.getResources().getRequests())
        .containsEntry("cpu", new Quantity("250m"))
        .containsEntry("memory", new Quantity("512Mi"));
    assertThat(client.getResources().getLimits())
        .containsEntry("cpu", new Quantity("2"))
        .containsEntry("memory", new Quantity("2Gi"));
    String mountPoint =
        stored.getSpec().getVolumes().stream()
            .filter(v -> v.getName().equals("data"))
            .findFirst()
            .orElseThrow()
            .getHostPath()
            .getPath()
            .replace("/apps/gold", "");
    assertThat(mountPoint).startsWith("/var/lib/juicefs/volume/" + labelled + "-gold-");
    assertThat(client.getLifecycle().getPreStop().getExec().getCommand().get(2))
        .startsWith(
            io.jfscsi.juicefs.ClientCommand.shellLine(
                    List.of("sh", "-c", "+e", "umount -l " + mountPoint + "; exit 0"))
                + "; ")
        .endsWith(SidecarScripts.stopScript(java.nio.file.Path.of(mountPoint)));
    assertThat(client.getLifecycle().getPostStart().getExec().getCommand().get(2))
        .contains("/proc/mounts");
    // The pod's own fields stay the app's, as in the Go driver.
    assertThat(stored.getMetadata().getLabels()).doesNotContainKey("mount-tier");
    assertThat(stored.getSpec().getTerminationGracePeriodSeconds()).isEqualTo(30L);

    // A claim no entry selects keeps the driver's image.
    Pod plain =
        k.pods().inNamespace(labelled).resource(app("plain-app", "data", Map.of())).create();
    assertThat(plain.getSpec().getContainers().getFirst().getImage())
        .isEqualTo("juicedata/mount:ce-v1.3.0");
  }

  @Test
  void aChangedConfigMapReachesTheNextPodThroughTheWatch() {
    Pod before =
        k.pods().inNamespace(labelled).resource(app("silver-1", "silver", Map.of())).create();
    assertThat(before.getSpec().getContainers().getFirst().getImagePullPolicy())
        .isNotEqualTo("Never");

    k.configMaps()
        .inNamespace(labelled)
        .withName(GLOBAL_CONFIG)
        .edit(
            cm -> {
              cm.getData()
                  .put(
                      GlobalConfigWatch.KEY,
                      PATCH
                          + """
                            - pvcSelector: {matchName: silver}
                              imagePullPolicy: Never
                          """);
              return cm;
            });
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> globalConfig.current().mountPodPatch().size() == 2);

    Pod after =
        k.pods().inNamespace(labelled).resource(app("silver-2", "silver", Map.of())).create();
    assertThat(after.getSpec().getContainers().getFirst().getImagePullPolicy()).isEqualTo("Never");
    assertThat(after.getSpec().getContainers().getFirst().getImage())
        .isEqualTo("juicedata/mount:ce-v1.3.0");
  }
}
