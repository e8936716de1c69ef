package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import io.jfscsi.testing.RealNode;
import io.jfscsi.testing.SidecarWebhookConfigurations;
import io.jfscsi.webhook.NativeSidecars;
import io.jfscsi.webhook.SidecarExitWatcher;
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
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Sidecar mode under a real kubelet: the driver's webhook (served from this test, registered with
 * the node's API server) injects the client into an app pod in a labelled namespace; kubelet runs
 * the client first (the stand-in's bindfs, formatted and mounted by the Mount Pod's command), holds
 * the app back until the postStart hook sees the mount, and the app writes and reads a file through
 * it that lands in the stand-in's store on the host. No Mount Pod is made. A Job's pod completes
 * once its app is done (the controller's {@link SidecarExitWatcher}, run here by the test), and no
 * pod leaves its client's mount point on the node.
 */
class SidecarOnNodeTest {
  private static NodeNamespace space;
  private static WebhookServer server;
  private static String configName;
  private static SidecarExitWatcher exits;
  private static KubernetesClient controller;
  private static final Path WEBHOOK_RBAC = Path.of("deploy/overlays/webhook/rbac-webhook.yaml");

  /** Only this test's namespace, whatever other tests label. */
  private static final String TEST_LABEL = "jfs-csi.io/sidecar-test";

  private static GlobalConfigWatch globalConfig;

  /** The ConfigMap's patch for the claim named "patched": an env and a volume of its own. */
  private static final String PATCH =
      """
      mountPodPatch:
        - pvcSelector:
            matchName: patched
          env:
            - {name: PATCHED_BY, value: "configmap for ${VOLUME_ID}"}
          volumes:
            - name: scratch
              emptyDir: {}
          volumeMounts:
            - name: scratch
              mountPath: /patched
      """;

  @BeforeAll
  static void up() throws Exception {
    space = NodeNamespace.create("node-sidecar");
    space
        .kube
        .namespaces()
        .withName(space.ns)
        .edit(
            n -> {
              n.getMetadata()
                  .setLabels(
                      Map.of(SidecarInjection.NAMESPACE_LABEL, "true", TEST_LABEL, space.ns));
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
    // The global ConfigMap as the controller's webhook reads it: a patch for claim "patched".
    space
        .kube
        .configMaps()
        .inNamespace(space.ns)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("juicefs-csi-driver-config")
                .endMetadata()
                .addToData(GlobalConfigWatch.KEY, PATCH)
                .build())
        .create();
    globalConfig =
        new GlobalConfigWatch(
            space.kube, space.ns, "juicefs-csi-driver-config", "webhook", Runnable::run);
    space.await(Duration.ofSeconds(20), "the ConfigMap read", globalConfig::synced);
    SidecarWebhook handler =
        new SidecarWebhook(
            space.kube,
            "csi.juicefs.com",
            config,
            false,
            NativeSidecars.OFF,
            Optional.of(globalConfig));
    server = WebhookServer.start(new InetSocketAddress("127.0.0.1", 0), tls, handler::handle);
    configName = space.ns + "-sidecar";
    space
        .kube
        .admissionRegistration()
        .v1()
        .mutatingWebhookConfigurations()
        .resource(
            SidecarWebhookConfigurations.local(
                configName, server.port(), Map.of(TEST_LABEL, space.ns)))
        .create();
    assertThat(
            SidecarWebhookService.patchCaBundle(
                space.kube, configName, tls.caBundlePem().orElseThrow()))
        .isTrue();
    // As the controller runs it next to the webhook (SidecarWebhookService), with the controller's
    // account and exactly the rights deploy/ gives it: the base's and the webhook overlay's.
    space.node.kubectl(
        "apply", "-f", space.node.projectDirectory().resolve(WEBHOOK_RBAC).toString());
    controller = space.node.clientAs(RealNode.NAMESPACE, "jfs-csi-controller");
    exits = SidecarExitWatcher.start(controller, Duration.ofSeconds(30));
    Thread.sleep(2000); // the API server's webhook informer
  }

  @AfterAll
  static void down() throws IOException {
    if (globalConfig != null) {
      globalConfig.close();
    }
    if (exits != null) {
      exits.close();
    }
    if (controller != null) {
      controller.close();
      space.node.kubectl(
          "delete",
          "--ignore-not-found",
          "-f",
          space.node.projectDirectory().resolve(WEBHOOK_RBAC).toString());
    }
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

    // Deleted, the pod leaves nothing on the node: the client's preStop hook unmounted and
    // removed its mount point.
    Path mountPoint = mountPointOf(running, "team");
    assertThat(mountPoint).exists();
    space.kube.pods().inNamespace(space.ns).withName("app").delete();
    space.await(
        Duration.ofSeconds(60),
        "pod app gone",
        () -> space.kube.pods().inNamespace(space.ns).withName("app").get() == null);
    assertThat(mountPoint).doesNotExist();
    assertThat(Files.readString(Path.of("/proc/self/mountinfo")))
        .doesNotContain(" " + mountPoint + " ");
    assertThat(written).hasContent("through-the-sidecar\n");
  }

  /**
   * The ConfigMap's mountPodPatch reaches the sidecar that the real kubelet runs: the patched env
   * is in the client container's environment and the patched volume is mounted in it, and the app
   * still works through the mount.
   */
  @Test
  void theConfigMapsPatchIsInTheRunningSidecar() throws Exception {
    String pv = space.staticVolume("patched", Map.of("subPath", "p"), List.of());
    space.create(
        NodeNamespace.app(
            "patched-app", "patched", "echo patched > /data/out && exec sleep 3600", null, null));
    space.awaitRunning("patched-app", Duration.ofMinutes(3));
    String seen =
        space.node.kubectl(
            "exec",
            "-n",
            space.ns,
            "patched-app",
            "-c",
            "jfs-mount",
            "--",
            "sh",
            "-c",
            "printenv PATCHED_BY; test -d /patched && echo patched-volume-mounted");
    assertThat(seen).contains("configmap for " + pv).contains("patched-volume-mounted");
    space.await(
        Duration.ofSeconds(60),
        "the app's file in the volume",
        () -> Files.exists(space.dataOf(pv).resolve("p/out")));
    space.kube.pods().inNamespace(space.ns).withName("patched-app").delete();
  }

  /**
   * A Job's pod (batch/v1, run by the node's kube-controller-manager) completes: its app writes a
   * file and exits 0, the watcher stops the client through its preStop command, the client exits 0,
   * the pod Succeeds and the Job is Complete; the file is in the volume and the client's mount
   * point is gone from the host, before and after the pod is deleted.
   */
  @Test
  void aJobsPodCompletesOnceItsAppExitsAndLeavesNoMountPointBehind() throws Exception {
    String pv = space.staticVolume("jobdata", Map.of("subPath", "results"), List.of());
    Pod template =
        NodeNamespace.app("unused", "jobdata", "echo done-by-the-job > /data/result", null, null);
    Job job =
        new JobBuilder()
            .withNewMetadata()
            .withName("writer")
            .endMetadata()
            .withNewSpec()
            .withBackoffLimit(0)
            .withNewTemplate()
            .withNewSpecLike(template.getSpec())
            .withRestartPolicy("Never")
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    Instant created = Instant.now();
    space.kube.batch().v1().jobs().inNamespace(space.ns).resource(job).create();

    space.await(
        Duration.ofSeconds(90),
        "Job writer Complete",
        () -> {
          Job j = space.kube.batch().v1().jobs().inNamespace(space.ns).withName("writer").get();
          return j.getStatus() != null
              && j.getStatus().getConditions() != null
              && j.getStatus().getConditions().stream()
                  .anyMatch(c -> c.getType().equals("Complete") && c.getStatus().equals("True"));
        },
        Duration.ofMillis(500));
    double seconds = Duration.between(created, Instant.now()).toMillis() / 1000.0;
    System.out.printf(
        "SidecarOnNodeTest: the Job's pod completed %.1f s after the Job was made%n", seconds);

    Pod pod =
        space
            .kube
            .pods()
            .inNamespace(space.ns)
            .withLabel("job-name", "writer")
            .list()
            .getItems()
            .getFirst();
    assertThat(pod.getSpec().getContainers())
        .extracting(c -> c.getName())
        .containsExactly("jfs-mount", "app");
    assertThat(pod.getStatus().getPhase()).isEqualTo("Succeeded");
    assertThat(pod.getStatus().getContainerStatuses())
        .allSatisfy(
            s -> {
              assertThat(s.getState().getTerminated()).as(s.getName()).isNotNull();
              assertThat(s.getState().getTerminated().getExitCode()).as(s.getName()).isZero();
            });
    var finished = new java.util.HashMap<String, Instant>();
    pod.getStatus()
        .getContainerStatuses()
        .forEach(
            s ->
                finished.put(
                    s.getName(), Instant.parse(s.getState().getTerminated().getFinishedAt())));
    System.out.printf(
        "SidecarOnNodeTest: the client exited %d s after the app (status timestamps, 1 s grain)%n",
        Duration.between(finished.get("app"), finished.get("jfs-mount")).toSeconds());
    Path written = space.dataOf(pv).resolve("results/result");
    assertThat(written).hasContent("done-by-the-job\n");
    Path mountPoint = mountPointOf(pod, "results");
    assertThat(mountPoint).doesNotExist();

    space
        .kube
        .batch()
        .v1()
        .jobs()
        .inNamespace(space.ns)
        .withName("writer")
        .withPropagationPolicy(DeletionPropagation.FOREGROUND)
        .delete();
    space.await(
        Duration.ofSeconds(60),
        "the Job's pod gone",
        () ->
            space
                .kube
                .pods()
                .inNamespace(space.ns)
                .withLabel("job-name", "writer")
                .list()
                .getItems()
                .isEmpty());
    assertThat(mountPoint).doesNotExist();
    assertThat(Files.readString(Path.of("/proc/self/mountinfo")))
        .doesNotContain(" " + mountPoint + " ");
  }

  /** The client's mount point on the host: the pod's volume "data" is SUBPATH inside it. */
  private static Path mountPointOf(Pod pod, String subPath) {
    Path source =
        Path.of(
            pod.getSpec().getVolumes().stream()
                .filter(v -> v.getName().equals("data"))
                .findFirst()
                .orElseThrow()
                .getHostPath()
                .getPath());
    assertThat(source.getFileName().toString()).isEqualTo(subPath);
    return source.getParent();
  }
}
