package io.jfscsi.runtime.kube;

import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.storage.CSIDriverBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.KubeletStandIn;
import io.jfscsi.testing.Logs;
import io.jfscsi.testing.ManifestRbac;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.assertj.core.api.Assertions;
import org.slf4j.LoggerFactory;

/**
 * One node of the test cluster as kubelet drives it: a real driver (node role, runtime kubernetes)
 * in a fresh namespace, and a {@link KubeletStandIn} that publishes app pods' CSI volumes through
 * the driver's socket and runs the Mount Pods the driver creates. Volumes are static PVs of
 * csi.juicefs.com whose nodePublishSecretRef is the Secret {@code jfs} (the embedded {@code
 * local://} file system of {@link DriverFixture#data}), each with a claim bound to it by
 * kube-controller-manager.
 */
final class PublishingNode implements AutoCloseable {
  static final String DRIVER = "csi.juicefs.com";
  static final String TEST_NS_LABEL = "jfs-csi.io/test-ns";
  static final Pattern FORBIDDEN = Pattern.compile("(?i)forbidden|\\b403\\b");

  final KubeCluster cluster = KubeCluster.shared();
  final KubernetesClient api = cluster.client();
  final String namespace;
  final String node;
  final DriverFixture driver;
  KubeletStandIn kubelet;
  private boolean rbac;
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

  PublishingNode(Path dir, String prefix) throws Exception {
    logs.start();
    root.addAppender(logs);
    namespace = cluster.newNamespace(prefix);
    node = "node-" + namespace;
    cluster.createNode(node);
    if (api.storage().v1().csiDrivers().withName(DRIVER).get() == null) {
      api.storage()
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
    driver = KubeNode.driverOn(dir, cluster, namespace, node).with("roles", List.of("node"));
    api.secrets()
        .inNamespace(namespace)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("jfs")
                .endMetadata()
                .addToStringData(driver.secrets())
                .build())
        .create();
  }

  /**
   * Makes the driver authenticate as the ServiceAccount of deploy/base/rbac-node.yaml, bound to
   * exactly its rules ({@link ManifestRbac}); {@link #forbiddenCalls} then lists every 403 logged.
   */
  PublishingNode withNodeRbac(Path kubeconfigFile) throws Exception {
    Path kubeconfig =
        ManifestRbac.bind(
            cluster, namespace, Path.of("deploy/base/rbac-node.yaml"), kubeconfigFile);
    driver.with("kubernetes.kubeconfig", kubeconfig.toString());
    rbac = true;
    return this;
  }

  /** Every message (with its causes) logged since this node was made that tells of a 403. */
  List<String> forbiddenCalls() {
    return Logs.snapshot(logs).stream()
        .filter(e -> !e.getLoggerName().startsWith("io.jfscsi.testing"))
        .map(
            e -> e.getLoggerName() + ": " + e.getFormattedMessage() + causes(e.getThrowableProxy()))
        .filter(m -> FORBIDDEN.matcher(m).find())
        .toList();
  }

  private static String causes(IThrowableProxy t) {
    StringBuilder b = new StringBuilder();
    for (; t != null; t = t.getCause()) {
      b.append(" / ").append(t.getClassName()).append(": ").append(t.getMessage());
    }
    return b.toString();
  }

  PublishingNode startKubelet() {
    kubelet =
        new KubeletStandIn(cluster, node, "unix://" + driver.socket, driver.kubelet)
            .withBackoff(Duration.ofMillis(200), Duration.ofSeconds(2))
            .start();
    return this;
  }

  PublishingNode startDriver() throws Exception {
    driver.start();
    return this;
  }

  /**
   * A static PV {@code <namespace>-<claim>} (RWX, the given volumeAttributes and mountOptions) and
   * the claim {@code claim} bound to it; returns the PV's name once the claim is Bound.
   */
  String staticVolume(String claim, Map<String, String> attributes, List<String> mountOptions) {
    return staticVolume(claim, attributes, mountOptions, "");
  }

  /** As {@link #staticVolume(String, Map, List)}, PV and claim of {@code storageClass}. */
  String staticVolume(
      String claim,
      Map<String, String> attributes,
      List<String> mountOptions,
      String storageClass) {
    String pv = namespace + "-" + claim;
    api.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .addToLabels(TEST_NS_LABEL, namespace)
                .endMetadata()
                .withNewSpec()
                .withAccessModes("ReadWriteMany")
                .addToCapacity("storage", new Quantity("1Gi"))
                .withPersistentVolumeReclaimPolicy("Retain")
                .withStorageClassName(storageClass)
                .withMountOptions(mountOptions)
                .withNewClaimRef()
                .withNamespace(namespace)
                .withName(claim)
                .endClaimRef()
                .withNewCsi()
                .withDriver(DRIVER)
                .withVolumeHandle(pv)
                .withFsType("juicefs")
                .withVolumeAttributes(attributes)
                .withNewNodePublishSecretRef()
                .withName("jfs")
                .withNamespace(namespace)
                .endNodePublishSecretRef()
                .endCsi()
                .endSpec()
                .build())
        .create();
    api.persistentVolumeClaims()
        .inNamespace(namespace)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName(claim)
                .endMetadata()
                .withNewSpec()
                .withAccessModes("ReadWriteMany")
                .withStorageClassName(storageClass)
                .withVolumeName(pv)
                .withNewResources()
                .addToRequests("storage", new Quantity("1Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              PersistentVolumeClaim c =
                  api.persistentVolumeClaims().inNamespace(namespace).withName(claim).get();
              return c.getStatus() != null && "Bound".equals(c.getStatus().getPhase());
            });
    return pv;
  }

  /** An app pod on this node that mounts claim {@code claim} at /data. */
  Pod appPod(String name, String claim) {
    return api.pods()
        .inNamespace(namespace)
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
                .withClaimName(claim)
                .endPersistentVolumeClaim()
                .endVolume()
                .endSpec()
                .build())
        .create();
  }

  /** Waits until the stand-in published the pod's volume and runs it (else: why not). */
  Pod awaitRunning(String name) {
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () -> {
              Pod p = api.pods().inNamespace(namespace).withName(name).get();
              String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
              String waiting =
                  p.getStatus() == null || p.getStatus().getContainerStatuses() == null
                      ? ""
                      : p.getStatus().getContainerStatuses().stream()
                          .filter(c -> c.getState() != null && c.getState().getWaiting() != null)
                          .map(c -> c.getState().getWaiting().getMessage())
                          .toList()
                          .toString();
              Assertions.assertThat(phase).as("pod %s: %s", name, waiting).isEqualTo("Running");
            });
    return api.pods().inNamespace(namespace).withName(name).get();
  }

  Path target(Pod pod, String pv) {
    return kubelet.csiTarget(pod.getMetadata().getUid(), pv);
  }

  /** This namespace's Mount Pods, those being deleted too. */
  List<Pod> mountPods() {
    return KubeNode.mountPods(api, namespace);
  }

  Optional<Pod> onlyMountPod() {
    return KubeNode.onlyMountPod(api, namespace);
  }

  Pod mountPod(String name) {
    return api.pods().inNamespace(namespace).withName(name).get();
  }

  static Set<String> references(Pod pod) {
    return PodReferences.targets(PodReferences.annotations(pod));
  }

  @Override
  public void close() throws Exception {
    try {
      // The driver first: it stops as in an upgrade, leaving its Mount Pods alone. Closed after
      // the stand-in, it would be stopping a Mount Pod that nobody runs any more.
      driver.stopDriver();
      if (kubelet != null) {
        kubelet.close();
      }
    } finally {
      root.detachAppender(logs);
      driver.close();
      api.persistentVolumes().withLabel(TEST_NS_LABEL, namespace).delete();
      cluster.deleteNode(node);
      if (rbac) {
        ManifestRbac.deleteClusterWide(api, namespace);
      }
    }
  }
}
