package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.Config;
import csi.v1.ProbeRequest;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.Driver;
import io.jfscsi.cli.ConfiguredHost;
import io.jfscsi.csi.CsiClient;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.KubeletStandIn;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A publish that waits on a Mount Pod that is slow to start, against a real kube-apiserver and a
 * real driver over its socket: it answers at publish-answer-deadline, before kubelet would give up
 * (here 8 s for kubelet's 100 s), naming the pod, its phase and its container's waiting reason; the
 * retry waits for the same pod, which serves it once kubelet gets to it.
 *
 * <p>Until the test starts the {@link KubeletStandIn}, no kubelet runs the node's pods, and the
 * test plays kubelet's status report through the pods/status subresource: a real kubelet cannot be
 * made to hold a pod in ContainerCreating for as long as a test wants and then start it. A start
 * that is stuck (an image that cannot be pulled) runs under the real kubelet in {@code
 * VolumesOnNodeTest}.
 */
class MountPodNotReadyClusterTest {
  static final Duration ANSWER_DEADLINE = Duration.ofSeconds(8);

  @TempDir Path dir;
  KubeCluster cluster;
  KubernetesClient api;
  String namespace;
  String node;
  DriverFixture fixture;
  Driver driver;
  CsiClient grpc;
  KubeletStandIn kubelet;

  /**
   * Kubelet's calls, each blocking a thread of its own: not the common pool, whose one thread on
   * this 2-core machine the fabric8 client needs to complete its requests.
   */
  final ExecutorService calls = Executors.newCachedThreadPool();

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    cluster = KubeCluster.shared();
    api = cluster.client();
    namespace = cluster.newNamespace("notready");
    node = "node-" + namespace;
    cluster.createNode(node);
    fixture =
        KubeNode.driverOn(dir, cluster, namespace, node)
            .with("roles", List.of("node"))
            .with("publish-answer-deadline", ANSWER_DEADLINE.toSeconds() + "s")
            .with("call-timeout", "30s");
  }

  @AfterEach
  void tearDown() throws Exception {
    calls.shutdownNow();
    if (grpc != null) {
      grpc.close();
    }
    if (driver != null) {
      driver.close();
    }
    if (kubelet != null) {
      kubelet.close();
    }
    if (fixture != null) {
      fixture.close();
    }
  }

  private void startDriver(String podReadyTimeout) throws Exception {
    fixture.with("kubernetes.pod-ready-timeout", podReadyTimeout);
    Config config = fixture.config();
    driver = Driver.start(config, ConfiguredHost.parts(config));
    grpc = CsiClient.connect("unix://" + fixture.socket);
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () -> grpc.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
  }

  /** An app pod of this node and its CSI target for volume {@code pv}. */
  private Path appTarget(String podName, String pv) throws Exception {
    return KubeNode.appTarget(api, namespace, node, fixture, podName, pv);
  }

  /** NodePublishVolume on a thread of its own, as kubelet calls it. */
  private CompletableFuture<Void> publish(String pv, Path target) {
    return CompletableFuture.runAsync(
        () -> grpc.node().nodePublishVolume(fixture.publishRequest(pv, target).build()), calls);
  }

  private static StatusRuntimeException failureOf(CompletableFuture<Void> call, Duration within) {
    Throwable t =
        catchThrowableOfType(
                ExecutionException.class, () -> call.get(within.toMillis(), TimeUnit.MILLISECONDS))
            .getCause();
    assertThat(t).isInstanceOf(StatusRuntimeException.class);
    return (StatusRuntimeException) t;
  }

  private List<Pod> mountPods() {
    return KubeNode.mountPods(api, namespace);
  }

  private Pod awaitMountPod() {
    return await()
        .atMost(Duration.ofSeconds(20))
        .until(this::mountPods, p -> p.size() == 1)
        .getFirst();
  }

  /** Writes the status kubelet would write for a pod whose container waits for {@code reason}. */
  private void kubeletReports(String pod, String reason, String message) {
    api.pods()
        .inNamespace(namespace)
        .withName(pod)
        .editStatus(
            p ->
                new PodBuilder(p)
                    .editOrNewStatus()
                    .withPhase("Pending")
                    .withConditions(
                        new PodConditionBuilder()
                            .withType("PodScheduled")
                            .withStatus("True")
                            .build())
                    .withContainerStatuses(
                        new ContainerStatusBuilder()
                            .withName(MountPodNames.CONTAINER)
                            .withImage("juicedata/mount:test")
                            .withImageID("")
                            .withReady(false)
                            .withRestartCount(0)
                            .withNewState()
                            .withNewWaiting()
                            .withReason(reason)
                            .withMessage(message)
                            .endWaiting()
                            .endState()
                            .build())
                    .endStatus()
                    .build());
  }

  @Test
  void aSlowMountPodIsAnsweredBeforeKubeletsDeadlineWithItsWaitingReasonAndTheRetryGetsTheSamePod()
      throws Exception {
    startDriver("120s");
    Path target = appTarget("app-1", "pv-slow");
    long began = System.nanoTime();
    CompletableFuture<Void> first = publish("pv-slow", target);
    String name = awaitMountPod().getMetadata().getName();
    kubeletReports(name, "ContainerCreating", null);

    StatusRuntimeException answer = failureOf(first, ANSWER_DEADLINE.plusSeconds(10));
    Duration took = Duration.ofNanos(System.nanoTime() - began);
    System.out.println(
        "slow Mount Pod: first publish answered after "
            + took.toMillis()
            + " ms: "
            + answer.getStatus());
    assertThat(answer.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(answer.getStatus().getDescription())
        .contains("volume pv-slow is not ready after 8 s")
        .contains(
            "Mount Pod "
                + name
                + " is Pending; container jfs-mount is waiting: "
                + "ContainerCreating")
        .contains("the retry waits for the same one");
    assertThat(took).isGreaterThanOrEqualTo(ANSWER_DEADLINE).isLessThan(Duration.ofSeconds(20));

    // Kubelet's retry joins the start in progress: no second pod.
    CompletableFuture<Void> retry = publish("pv-slow", target);
    Thread.sleep(1000);
    assertThat(retry).isNotDone();
    assertThat(mountPods()).extracting(p -> p.getMetadata().getName()).containsExactly(name);

    // Kubelet gets to the pod at last (the image was pulled): the same pod serves the retry.
    kubelet = new KubeletStandIn(cluster, node).start();
    retry.get(40, TimeUnit.SECONDS);
    Pod served = KubeNode.onlyMountPod(api, namespace).orElseThrow();
    assertThat(served.getMetadata().getName()).isEqualTo(name);
    assertThat(MountPodWatch.runningAndReady(served)).isTrue();
    assertThat(PodReferences.targets(served.getMetadata().getAnnotations()))
        .containsExactly(target.toString());
    Files.writeString(target.resolve("hello.txt"), "after a slow start");
    assertThat(Files.readString(fixture.data.resolve("pv-slow").resolve("hello.txt")))
        .isEqualTo("after a slow start");
  }
}
