package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.Config;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import csi.v1.VolumeCapability;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.Driver;
import io.jfscsi.cli.ConfiguredHost;
import io.jfscsi.csi.CsiClient;
import io.jfscsi.host.SharedMountRoot;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.KubeletStandIn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One node of the test cluster with a real driver on the kubernetes runtime: a fresh namespace and
 * Node, the {@link KubeletStandIn} that runs its pods (Mount Pods with the test-only {@code
 * juicefs} shim), and the driver built from the real ports (so the test can read its runtime's
 * request counts).
 */
final class KubeNode implements AutoCloseable {
  final KubeCluster cluster = KubeCluster.shared();
  final KubernetesClient api = cluster.client();
  final String namespace;
  final String node;
  final DriverFixture fixture;
  final KubeletStandIn kubelet;
  Driver driver;
  KubeMountRuntime runtime;
  Driver.HostParts ports;
  CsiClient grpc;

  KubeNode(Path dir, Map<String, Object> overrides) throws Exception {
    namespace = cluster.newNamespace("kr");
    node = "node-" + namespace;
    cluster.createNode(node);
    fixture = driverOn(dir, cluster, namespace, node);
    overrides.forEach(fixture::with);
    kubelet =
        new KubeletStandIn(cluster, node)
            .withBackoff(Duration.ofMillis(200), Duration.ofSeconds(2))
            .start();
  }

  KubeNode startDriver() throws Exception {
    Config config = fixture.config();
    ports = ConfiguredHost.parts(config);
    runtime = (KubeMountRuntime) ports.runtime();
    driver = Driver.start(config, ports);
    grpc = CsiClient.connect("unix://" + fixture.socket);
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () -> grpc.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
    return this;
  }

  void stopDriver() {
    if (grpc != null) {
      grpc.close();
      grpc = null;
    }
    if (driver != null) {
      driver.close();
      driver = null;
    }
  }

  /** An app pod on this node (the stand-in runs its sleep) and its CSI target path. */
  Path appTarget(String podName, String pv) throws Exception {
    return appTarget(api, namespace, node, fixture, podName, pv);
  }

  /** An app pod on {@code node} and the CSI target of volume {@code pv} in its directory. */
  static Path appTarget(
      KubernetesClient api,
      String namespace,
      String node,
      DriverFixture fixture,
      String podName,
      String pv)
      throws IOException {
    Pod pod = appPod(api, namespace, node, podName);
    Path parent =
        fixture
            .kubelet
            .resolve("pods")
            .resolve(pod.getMetadata().getUid())
            .resolve("volumes")
            .resolve("kubernetes.io~csi")
            .resolve(pv);
    Files.createDirectories(parent);
    return parent.resolve("mount");
  }

  /** An app pod on {@code node} whose one container sleeps. */
  static Pod appPod(KubernetesClient api, String namespace, String node, String podName) {
    return api.pods()
        .inNamespace(namespace)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(podName)
                .endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .addNewContainer()
                .withName("app")
                .withImage("busybox")
                .withCommand("sleep", "3600")
                .endContainer()
                .endSpec()
                .build())
        .create();
  }

  void publish(String volumeId, Path target, Map<String, String> context) {
    publish(volumeId, target, context, List.of());
  }

  /** With mount options as kubelet passes a PV's mountOptions (the capability's mount flags). */
  void publish(String volumeId, Path target, Map<String, String> context, List<String> flags) {
    var req = fixture.publishRequest(volumeId, target);
    req.putAllVolumeContext(context);
    if (!flags.isEmpty()) {
      req.setVolumeCapability(
          DriverFixture.RWX.toBuilder()
              .setMount(VolumeCapability.MountVolume.newBuilder().addAllMountFlags(flags)));
    }
    grpc.node().nodePublishVolume(req.build());
  }

  void unpublish(String volumeId, Path target) {
    grpc.node()
        .nodeUnpublishVolume(
            NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId(volumeId)
                .setTargetPath(target.toString())
                .build());
  }

  /**
   * A driver on the kubernetes runtime for {@code node}, its Mount Pods in {@code namespace}, with
   * short timeouts for tests and no management HTTP; not started.
   */
  static DriverFixture driverOn(Path dir, KubeCluster cluster, String namespace, String node)
      throws IOException {
    // A node's mount root is a shared mount before any Mount Pod runs (the node plugin's init
    // container makes it one); the fixture's close unmounts it with the rest under dir.
    assertThat(SharedMountRoot.ensure(dir.resolve("mnt"))).isEmpty();
    return new DriverFixture(dir)
        .with("runtime", "kubernetes")
        .with("node-id", node)
        .with("kubernetes.namespace", namespace)
        .with("kubernetes.kubeconfig", cluster.kubeconfig().toString())
        .with("kubernetes.mount-image", "juicedata/mount:test")
        .with("kubernetes.priority-class", "")
        .with("kubernetes.pod-ready-timeout", "30s")
        .with("kubernetes.termination-grace", "2s")
        .with("management.enabled", false);
  }

  /** The Mount Pods of {@code namespace}, those being deleted too. */
  static List<Pod> mountPods(KubernetesClient api, String namespace) {
    return api.pods()
        .inNamespace(namespace)
        .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
        .list()
        .getItems();
  }

  /** The only Mount Pod of {@code namespace}, if there is exactly one. */
  static Optional<Pod> onlyMountPod(KubernetesClient api, String namespace) {
    List<Pod> pods = mountPods(api, namespace);
    return pods.size() == 1 ? Optional.of(pods.getFirst()) : Optional.empty();
  }

  List<Pod> mountPods() {
    return mountPods(api, namespace);
  }

  Optional<Pod> onlyMountPod() {
    return onlyMountPod(api, namespace);
  }

  Pod awaitReadyMountPod(String notNamed) {
    return await()
        .atMost(Duration.ofSeconds(40))
        .until(
            () ->
                mountPods().stream()
                    .filter(p -> !p.getMetadata().getName().equals(notNamed))
                    .filter(MountPodWatch::runningAndReady)
                    .findFirst(),
            Optional::isPresent)
        .orElseThrow();
  }

  Map<String, Long> requests() {
    return runtime.requests().snapshot();
  }

  @Override
  public void close() throws Exception {
    stopDriver();
    try {
      kubelet.close();
    } finally {
      fixture.close();
    }
  }
}
