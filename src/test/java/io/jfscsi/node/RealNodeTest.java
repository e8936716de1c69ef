package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.storage.CSINode;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.RealNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The driver in containers under a real kubelet (bin/node-up), from the images bin/build-images
 * makes, deployed with deploy/overlays/local-node: kubelet registers it, a claim is provisioned by
 * the controller's built-in provisioner, two app pods share one Mount Pod that runs the production
 * command line against the juicefs stand-in, a bad Secret reaches the pod's Events with the
 * driver's own message, and an app keeps reading across a driver upgrade and a replaced Mount Pod.
 */
class RealNodeTest {
  /** The controller's management port on the node's network (deploy/overlays/local-node). */
  private static final String CONTROLLER_MANAGEMENT = "http://127.0.0.1:9561";

  /** kubelet's root on the node of bin/node-up. */
  private static final Path KUBELET_ROOT = Path.of("/var/lib/jfs-csi-node/kubelet");

  private static NodeNamespace space;
  private static RealNode node;
  private static KubernetesClient kube;
  private static String ns;

  @BeforeAll
  static void up() {
    space = NodeNamespace.create("node-test");
    node = space.node;
    kube = space.kube;
    ns = space.ns;
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (space != null) {
      space.close();
    }
  }

  @Test
  void kubelet_registered_the_driver_it_serves_itself() {
    // kubelet writes the CSINode once the plugin's registration went through.
    await(
        Duration.ofSeconds(90),
        "kubelet writes the CSINode with the driver",
        () -> {
          CSINode n = kube.storage().v1().csiNodes().withName(RealNode.NODE_NAME).get();
          return n != null
              && n.getSpec().getDrivers() != null
              && !n.getSpec().getDrivers().isEmpty();
        });
    CSINode csiNode = kube.storage().v1().csiNodes().withName(RealNode.NODE_NAME).get();
    assertThat(csiNode.getSpec().getDrivers())
        .anySatisfy(
            d -> {
              assertThat(d.getName()).isEqualTo("csi.juicefs.com");
              assertThat(d.getNodeID()).isEqualTo(RealNode.NODE_NAME);
            });
    assertThat(
            kube.pods()
                .inNamespace(RealNode.NAMESPACE)
                .withLabel("app.kubernetes.io/name", "jfs-csi")
                .list()
                .getItems())
        .extracting(p -> p.getSpec().getContainers().size())
        .as("the node plugin has no registrar sidecar, the controller no livenessprobe")
        .containsOnly(1);
  }

  @Test
  void a_dynamic_claim_is_shared_by_two_pods_through_one_mount_pod() {
    String metaurl = space.metaurl(ns);
    kube.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("jfs")
                .endMetadata()
                .withStringData(Map.of("name", ns, "metaurl", metaurl))
                .build())
        .create();
    kube.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(ns)
                .endMetadata()
                .withProvisioner("csi.juicefs.com")
                .withReclaimPolicy("Delete")
                .withVolumeBindingMode("Immediate")
                .withParameters(
                    Map.of(
                        "csi.storage.k8s.io/provisioner-secret-name", "jfs",
                        "csi.storage.k8s.io/provisioner-secret-namespace", ns,
                        "csi.storage.k8s.io/node-publish-secret-name", "jfs",
                        "csi.storage.k8s.io/node-publish-secret-namespace", ns,
                        "juicefs/mount-cpu-request", "50m",
                        "juicefs/mount-memory-request", "64Mi"))
                .build())
        .create();
    kube.persistentVolumeClaims().inNamespace(ns).resource(claim("shared", ns, null)).create();
    await(
        Duration.ofSeconds(90),
        "claim shared Bound",
        () ->
            "Bound"
                .equals(
                    kube.persistentVolumeClaims()
                        .inNamespace(ns)
                        .withName("shared")
                        .get()
                        .getStatus()
                        .getPhase()));
    String pv =
        kube.persistentVolumeClaims()
            .inNamespace(ns)
            .withName("shared")
            .get()
            .getSpec()
            .getVolumeName();

    Instant created = Instant.now();
    kube.pods()
        .inNamespace(ns)
        .resource(
            app("writer", "shared", "echo hello-from-writer > /data/hello && exec sleep 3600"))
        .create();
    awaitRunning("writer", Duration.ofMinutes(3));
    Duration firstPod = Duration.between(created, Instant.now());
    created = Instant.now();
    kube.pods()
        .inNamespace(ns)
        .resource(
            app(
                "reader",
                "shared",
                "until [ -s /data/hello ]; do sleep 0.2; done; cat /data/hello; exec sleep 3600"))
        .create();
    awaitRunning("reader", Duration.ofMinutes(2));
    Duration joiningPod = Duration.between(created, Instant.now());
    System.err.printf(
        "RealNodeTest: %s; first pod of a volume Running in %d ms, a pod joining"
            + " its Mount Pod in %d ms%n",
        node.timings(), firstPod.toMillis(), joiningPod.toMillis());

    await(
        Duration.ofSeconds(30),
        "the reader's log",
        () -> log("reader").contains("hello-from-writer"));
    List<Pod> mountPods =
        kube
            .pods()
            .inNamespace(RealNode.NAMESPACE)
            .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
            .list()
            .getItems()
            .stream()
            .filter(
                p ->
                    p.getMetadata()
                        .getAnnotations()
                        .getOrDefault(MountPodNames.UNIQUE_ID, "")
                        .equals(pv))
            .toList();
    assertThat(mountPods).as("one Mount Pod serves both pods").hasSize(1);
    String script = mountPods.get(0).getSpec().getContainers().get(0).getCommand().get(2);
    assertThat(script)
        .as("the production command line")
        .startsWith("juicefs format ")
        .contains(" && exec juicefs mount ");
    // Through the stand-in: the data is in the volume's sub-directory of the file system.
    Path written = space.dataOf(ns).resolve(pv).resolve("hello");
    assertThat(written).exists();
    // The Mount Pod's record holds kubelet's two targets; the controller's cluster view shows
    // the volume, both pods and their targets.
    List<String> targets =
        List.of("writer", "reader").stream()
            .map(
                name ->
                    KUBELET_ROOT
                        .resolve("pods")
                        .resolve(
                            kube.pods().inNamespace(ns).withName(name).get().getMetadata().getUid())
                        .resolve("volumes/kubernetes.io~csi")
                        .resolve(pv)
                        .resolve("mount")
                        .toString())
            .toList();
    assertThat(
            mountPods.get(0).getMetadata().getAnnotations().entrySet().stream()
                .filter(e -> MountPodNames.isReferenceKey(e.getKey()))
                .map(Map.Entry::getValue))
        .containsExactlyInAnyOrderElementsOf(targets);
    assertThat(httpGet(CONTROLLER_MANAGEMENT + "/cluster"))
        .contains("\"pv\":\"" + pv + "\"")
        .contains(ns + "/writer")
        .contains(ns + "/reader")
        .contains(targets.get(0))
        .contains(targets.get(1));

    // Pods gone, claim deleted: the Mount Pod leaves, the PV and its directory go.
    kube.pods().inNamespace(ns).withName("writer").delete();
    kube.pods().inNamespace(ns).withName("reader").delete();
    await(
        Duration.ofSeconds(90),
        "the Mount Pod gone",
        () ->
            kube.pods()
                    .inNamespace(RealNode.NAMESPACE)
                    .withName(mountPods.get(0).getMetadata().getName())
                    .get()
                == null);
    kube.persistentVolumeClaims().inNamespace(ns).withName("shared").delete();
    await(
        Duration.ofSeconds(90),
        "PV " + pv + " deleted",
        () -> kube.persistentVolumes().withName(pv).get() == null);
    assertThat(written.getParent()).doesNotExist();
  }

  @Test
  void a_secret_without_metaurl_shows_the_drivers_message_on_the_pod() {
    kube.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("no-metaurl")
                .endMetadata()
                .withStringData(Map.of("name", "nometa"))
                .build())
        .create();
    String pvName = ns + "-no-metaurl";
    PersistentVolume pv =
        new PersistentVolumeBuilder()
            .withNewMetadata()
            .withName(pvName)
            .endMetadata()
            .withNewSpec()
            .withCapacity(Map.of("storage", new Quantity("1Gi")))
            .withAccessModes("ReadWriteMany")
            .withPersistentVolumeReclaimPolicy("Retain")
            .withStorageClassName("")
            .withNewCsi()
            .withDriver("csi.juicefs.com")
            .withVolumeHandle(pvName)
            .withNewNodePublishSecretRef()
            .withName("no-metaurl")
            .withNamespace(ns)
            .endNodePublishSecretRef()
            .endCsi()
            .endSpec()
            .build();
    kube.persistentVolumes().resource(pv).create();
    try {
      kube.persistentVolumeClaims()
          .inNamespace(ns)
          .resource(claim("no-metaurl", "", pvName))
          .create();
      kube.pods().inNamespace(ns).resource(app("bad", "no-metaurl", "exec sleep 3600")).create();
      await(
          Duration.ofMinutes(2),
          "a FailedMount event with the driver's message",
          () ->
              events("bad").stream()
                  .anyMatch(
                      e ->
                          e.getMessage() != null
                              && e.getMessage().contains("secret key 'metaurl' is missing")));
      assertThat(kube.pods().inNamespace(ns).withName("bad").get().getStatus().getPhase())
          .isEqualTo("Pending");
      assertThat(
              kube.pods()
                  .inNamespace(RealNode.NAMESPACE)
                  .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
                  .list()
                  .getItems())
          .as("no Mount Pod for a volume the driver refused")
          .noneMatch(
              p -> pvName.equals(p.getMetadata().getAnnotations().get(MountPodNames.UNIQUE_ID)));
    } finally {
      kube.pods().inNamespace(ns).withName("bad").delete();
      kube.persistentVolumeClaims().inNamespace(ns).withName("no-metaurl").delete();
      kube.persistentVolumes().withName(pvName).delete();
    }
  }

  /**
   * An upgrade of the node plugin (its pod deleted, the DaemonSet makes a new one) leaves the Mount
   * Pod running and the app reading, without a single failed read.
   */
  @Test
  void a_driver_upgrade_leaves_the_mount_pod_and_the_app_reading() {
    String pvName = steadyApp("upgrade");
    try {
      Pod mountPod = mountPodOf(pvName);
      long failedBefore = failedReads("steady-upgrade");
      Pod driver =
          kube.pods()
              .inNamespace(RealNode.NAMESPACE)
              .withLabel("app.kubernetes.io/component", "node")
              .list()
              .getItems()
              .get(0);
      kube.pods().inNamespace(RealNode.NAMESPACE).resource(driver).delete();
      // kubelet 1.20 sometimes loses the race with containerd's removal of the container
      // ("KillContainerError ... not found") and kills the pod again only at a later sync.
      await(
          Duration.ofMinutes(3),
          "the old node plugin pod gone",
          () ->
              kube.pods()
                      .inNamespace(RealNode.NAMESPACE)
                      .withName(driver.getMetadata().getName())
                      .get()
                  == null);
      node.awaitDriverReady(Duration.ofMinutes(2));
      assertThat(mountPodOf(pvName).getMetadata().getUid())
          .as("the Mount Pod kept running")
          .isEqualTo(mountPod.getMetadata().getUid());
      assertThat(mountPodOf(pvName).getStatus().getContainerStatuses().get(0).getRestartCount())
          .isZero();
      awaitReading("steady-upgrade", Duration.ofSeconds(10));
      assertThat(failedReads("steady-upgrade"))
          .as("no read failed while the driver was replaced")
          .isEqualTo(failedBefore);
    } finally {
      removeSteadyApp("upgrade", pvName);
    }
  }

  /**
   * A deleted Mount Pod is replaced and the app reads again: the driver binds the target again and
   * reaches the container's copy of it (HostToContainer).
   */
  @Test
  void a_replaced_mount_pod_serves_the_app_again() {
    String pvName = steadyApp("replaced");
    try {
      Pod mountPod = mountPodOf(pvName);
      kube.pods().inNamespace(RealNode.NAMESPACE).resource(mountPod).delete();
      await(
          Duration.ofMinutes(2),
          "a new Mount Pod Running",
          () -> {
            Pod p = mountPodOfOrNull(pvName);
            return p != null
                && !p.getMetadata().getUid().equals(mountPod.getMetadata().getUid())
                && "Running".equals(p.getStatus().getPhase());
          });
      awaitReading("steady-replaced", Duration.ofSeconds(90));
    } finally {
      removeSteadyApp("replaced", pvName);
    }
  }

  /**
   * A static PV on a stand-in file system and a pod "steady-NAME" that reads its file every half
   * second and says so; returns the PV's name once the pod reads.
   */
  private static String steadyApp(String name) {
    String fs = space.staticVolume(name, Map.of(), List.of());
    kube.pods()
        .inNamespace(ns)
        .resource(
            app(
                "steady-" + name,
                name,
                "echo steady > /data/f; while true; do if [ \"$(cat /data/f 2>/dev/null)\" = steady ];"
                    + " then echo read-ok; else echo read-failed; fi; sleep 0.5; done"))
        .create();
    awaitRunning("steady-" + name, Duration.ofMinutes(3));
    awaitReading("steady-" + name, Duration.ofSeconds(30));
    return fs;
  }

  private static void removeSteadyApp(String name, String pvName) {
    kube.pods().inNamespace(ns).withName("steady-" + name).delete();
    space.removeClaimAndVolume(name, pvName);
  }

  /** The app's last line says it read its file (a failed read before that may be older). */
  private static void awaitReading(String pod, Duration timeout) {
    await(
        timeout,
        pod + " reading",
        () -> {
          String[] lines = log(pod).strip().split("\n");
          return lines.length > 0 && lines[lines.length - 1].equals("read-ok");
        });
  }

  private static long failedReads(String pod) {
    return log(pod).lines().filter(l -> l.equals("read-failed")).count();
  }

  private static Pod mountPodOfOrNull(String volumeId) {
    return space.mountPodOfOrNull(volumeId);
  }

  private static Pod mountPodOf(String volumeId) {
    return space.mountPodOf(volumeId);
  }

  private static PersistentVolumeClaim claim(String name, String storageClass, String volume) {
    return NodeNamespace.claim(name, storageClass, volume);
  }

  private static Pod app(String name, String claim, String script) {
    return NodeNamespace.app(name, claim, script);
  }

  private static void awaitRunning(String pod, Duration timeout) {
    space.awaitRunning(pod, timeout);
  }

  private static String log(String pod) {
    return space.log(pod);
  }

  private static List<Event> events(String pod) {
    return space.events(pod);
  }

  private static String httpGet(String url) {
    try (HttpClient http = HttpClient.newHttpClient()) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(url)).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(url + ": " + r.body()).isEqualTo(200);
      return r.body();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static void await(Duration timeout, String what, BooleanSupplier condition) {
    space.await(timeout, what, condition);
  }
}
