package io.jfscsi.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.storage.CSIDriverBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.cli.Main;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.KubeletStandIn;
import java.io.PrintWriter;
import java.io.StringWriter;
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
 * The whole driver in cluster mode, as a user meets it: a real kube-apiserver and
 * kube-controller-manager, one jfs-csi driver with both roles on the Kubernetes runtime, and the
 * kubelet stand-in publishing pods' volumes through the driver's CSI socket and running the Mount
 * Pods it creates (the juicefs shim serves a local directory through FUSE).
 *
 * <p>A dynamic PVC gets a PV from the built-in provisioner and binds; the first app pod's publish
 * creates a Mount Pod that becomes ready and the target is bound; a second app pod shares it; the
 * cluster view shows both; deleting the Mount Pod brings a new one and both targets work again; a
 * driver restart reads the references back and creates no pod; the last unpublish deletes the Mount
 * Pod after the delay; deleting the PVC removes the PV and its directory.
 */
class EndToEndClusterTest {

  static final String DRIVER = "csi.juicefs.com";

  @TempDir Path dir;

  KubeCluster cluster;
  KubernetesClient k;
  String ns;
  String node;
  DriverFixture driver;
  KubeletStandIn kubelet;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    cluster = KubeCluster.shared();
    k = cluster.client();
    ns = cluster.newNamespace("e2e");
    node = ns + "-node";
    cluster.createNode(node);
    if (k.storage().v1().csiDrivers().withName(DRIVER).get() == null) {
      k.storage()
          .v1()
          .csiDrivers()
          .resource(
              new CSIDriverBuilder()
                  .withNewMetadata()
                  .withName(DRIVER)
                  .endMetadata()
                  .withNewSpec()
                  .withAttachRequired(false)
                  .withPodInfoOnMount(true)
                  .withVolumeLifecycleModes("Persistent")
                  .endSpec()
                  .build())
          .createOr(existing -> existing.update());
    }
    driver =
        new DriverFixture(dir)
            .with("runtime", "kubernetes")
            .with("node-id", node)
            .with("controller.provisioner", "builtin")
            .with("controller.leader-election.lease-name", ns + "-lease")
            .with("kubernetes.namespace", ns)
            .with("kubernetes.kubeconfig", cluster.kubeconfig().toString())
            .with("kubernetes.mount-image", "juicedata/mount:ce-test")
            .with("kubernetes.priority-class", "")
            .with("kubernetes.termination-grace", "2s")
            .with("management.port", 0)
            .start();
    kubelet = new KubeletStandIn(cluster, node, "unix://" + driver.socket, driver.kubelet).start();
    k.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("jfs")
                .endMetadata()
                .addToStringData(driver.secrets())
                .build())
        .create();
    k.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(ns + "-sc")
                .endMetadata()
                .withProvisioner(DRIVER)
                .withReclaimPolicy("Delete")
                .withParameters(
                    Map.of(
                        "csi.storage.k8s.io/provisioner-secret-name", "jfs",
                        "csi.storage.k8s.io/provisioner-secret-namespace", ns,
                        "csi.storage.k8s.io/node-publish-secret-name", "jfs",
                        "csi.storage.k8s.io/node-publish-secret-namespace", ns,
                        "juicefs/mount-delete-delay", "4s"))
                .build())
        .create();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (kubelet != null) {
      kubelet.close();
    }
    if (driver != null) {
      driver.close();
    }
    if (k != null) {
      k.storage().v1().storageClasses().withName(ns + "-sc").delete();
      cluster.deleteNode(node);
    }
  }

  @Test
  void aVolumesWholeLifeInTheCluster() throws Exception {
    // A dynamic PVC gets a PV from the built-in provisioner, and its directory exists.
    k.persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName("data")
                .endMetadata()
                .withNewSpec()
                .withStorageClassName(ns + "-sc")
                .withAccessModes("ReadWriteMany")
                .withNewResources()
                .addToRequests("storage", new Quantity("1Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
    PersistentVolumeClaim bound =
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () -> k.persistentVolumeClaims().inNamespace(ns).withName("data").get(),
                c -> "Bound".equals(c.getStatus().getPhase()));
    String pv = bound.getSpec().getVolumeName();
    Path volumeDir = driver.data.resolve(pv);
    assertThat(volumeDir).isDirectory();

    // The first app pod: a Mount Pod starts, becomes ready, the target is bound.
    Pod app1 = appPod("app-1");
    Path target1 = kubelet.csiTarget(app1.getMetadata().getUid(), pv);
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () ->
                assertThat(k.pods().inNamespace(ns).withName("app-1").get().getStatus().getPhase())
                    .isEqualTo("Running"));
    Files.writeString(target1.resolve("from-app-1.txt"), "hello");
    assertThat(volumeDir.resolve("from-app-1.txt")).hasContent("hello");
    Pod mountPod = onlyMountPod();
    assertThat(references(mountPod)).containsExactly(target1.toString());

    // A second app pod shares it: one Mount Pod, two references.
    Pod app2 = appPod("app-2");
    Path target2 = kubelet.csiTarget(app2.getMetadata().getUid(), pv);
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> assertThat(target2.resolve("from-app-1.txt")).hasContent("hello"));
    assertThat(onlyMountPod().getMetadata().getName()).isEqualTo(mountPod.getMetadata().getName());
    assertThat(references(onlyMountPod()))
        .containsExactlyInAnyOrder(target1.toString(), target2.toString());

    // The controller's cluster view and the doctor see the same.
    String view = get("/cluster");
    assertThat(view)
        .contains("\"pv\":\"" + pv + "\"")
        .contains(ns + "/app-1")
        .contains(ns + "/app-2")
        .contains(target1.toString())
        .contains(target2.toString());
    assertThat(get("/metrics"))
        .containsPattern("jfscsi_kubernetes_requests_total\\{request=\"PATCH pods\"\\} [1-9]");
    StringWriter doctor = new StringWriter();
    int verdict =
        Main.commandLine()
            .setOut(new PrintWriter(doctor))
            .execute(
                "doctor", "pod", ns + "/app-1", "--kubeconfig", cluster.kubeconfig().toString());
    assertThat(verdict).as(doctor.toString()).isZero();

    // The Mount Pod is deleted: a new one serves both targets again.
    k.pods().inNamespace(ns).resource(mountPod).delete();
    Pod replacement =
        await()
            .atMost(Duration.ofSeconds(90))
            .until(
                this::readyMountPods,
                pods ->
                    pods.size() == 1
                        && !pods.getFirst()
                            .getMetadata()
                            .getName()
                            .equals(mountPod.getMetadata().getName()))
            .getFirst();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(target1.resolve("from-app-1.txt")).hasContent("hello");
              assertThat(target2.resolve("from-app-1.txt")).hasContent("hello");
            });
    assertThat(references(replacement)).hasSize(2);

    // A driver restart reads the references back from the pod: no new pod, nothing lost.
    driver.stopDriver();
    driver.start();
    Thread.sleep(2_000);
    assertThat(readyMountPods())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getMetadata().getName()).isEqualTo(replacement.getMetadata().getName());
              assertThat(references(p)).hasSize(2);
            });
    Files.writeString(target2.resolve("after-restart.txt"), "still here");
    assertThat(volumeDir.resolve("after-restart.txt")).hasContent("still here");

    // Unpublish by deleting the app pods; the last one leaves the Mount Pod for the delay.
    k.pods().inNamespace(ns).withName("app-1").delete();
    await().atMost(Duration.ofSeconds(60)).until(() -> references(onlyMountPod()).size() == 1);
    k.pods().inNamespace(ns).withName("app-2").delete();
    Pod delayed =
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                this::onlyMountPod,
                p ->
                    references(p).isEmpty()
                        && p.getMetadata().getAnnotations().containsKey(MountPodNames.DELETE_AT));
    assertThat(Instant.parse(delayed.getMetadata().getAnnotations().get(MountPodNames.DELETE_AT)))
        .isAfter(Instant.now().minusSeconds(1));
    await().atMost(Duration.ofSeconds(60)).until(() -> mountPods().isEmpty());

    // Deleting the PVC (reclaim Delete) removes the PV and its directory.
    k.persistentVolumeClaims().inNamespace(ns).withName("data").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(k.persistentVolumes().withName(pv).get()).isNull();
              assertThat(volumeDir).doesNotExist();
            });
  }

  Pod appPod(String name) {
    return k.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .withTerminationGracePeriodSeconds(1L)
                .addNewContainer()
                .withName("app")
                .withImage("busybox")
                .withCommand("sleep", "600")
                .addNewVolumeMount()
                .withName("data")
                .withMountPath("/data")
                .endVolumeMount()
                .endContainer()
                .addNewVolume()
                .withName("data")
                .withNewPersistentVolumeClaim()
                .withClaimName("data")
                .endPersistentVolumeClaim()
                .endVolume()
                .endSpec()
                .build())
        .create();
  }

  List<Pod> mountPods() {
    return k
        .pods()
        .inNamespace(ns)
        .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .toList();
  }

  List<Pod> readyMountPods() {
    return mountPods().stream()
        .filter(
            p ->
                p.getStatus() != null
                    && p.getStatus().getContainerStatuses() != null
                    && p.getStatus().getContainerStatuses().stream()
                        .allMatch(s -> Boolean.TRUE.equals(s.getReady())))
        .toList();
  }

  Pod onlyMountPod() {
    List<Pod> pods = mountPods();
    assertThat(pods).hasSize(1);
    return pods.getFirst();
  }

  static List<String> references(Pod pod) {
    return pod.getMetadata().getAnnotations().entrySet().stream()
        .filter(e -> MountPodNames.isReferenceKey(e.getKey()))
        .map(Map.Entry::getValue)
        .toList();
  }

  String get(String path) throws Exception {
    try (HttpClient http = HttpClient.newHttpClient()) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(
                      URI.create(
                          "http://127.0.0.1:"
                              + driver.driver().managementPort().orElseThrow()
                              + path))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      return r.body();
    }
  }
}
