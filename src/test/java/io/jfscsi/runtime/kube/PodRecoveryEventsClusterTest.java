package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.ContainerRecoveryListener;
import io.jfscsi.management.DriverMetrics;
import io.jfscsi.testing.FakeMounter;
import io.jfscsi.testing.KubeCluster;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue #8 item 3 in cluster mode: a core/v1 Event on the app pod of each container recovery,
 * posted to a real kube-apiserver from synthetic outcomes (the recovery itself needs private mount
 * namespaces: PrivateContainerRecoveryTest), next to the metrics in the listener fan-out.
 */
class PodRecoveryEventsClusterTest {
  KubeCluster cluster;
  KubernetesClient api;
  String ns;
  String node;
  NodeAppPods apps;

  @BeforeEach
  void setUp() {
    cluster = KubeCluster.shared();
    api = cluster.client();
    ns = cluster.newNamespace("ev");
    node = "node-" + ns;
    cluster.createNode(node);
    apps = new NodeAppPods(api, node, Duration.ofSeconds(1), Clock.systemUTC());
  }

  @AfterEach
  void tearDown() {
    if (apps != null) {
      apps.close();
    }
  }

  private Pod appPod(String name) {
    Pod pod = KubeNode.appPod(api, ns, node, name);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> apps.pod(pod.getMetadata().getUid()).isPresent());
    return pod;
  }

  private static Path target(Pod pod) {
    return Path.of(
        "/var/lib/kubelet/pods",
        pod.getMetadata().getUid(),
        "volumes/kubernetes.io~csi/pv-1/mount");
  }

  private List<Event> events(Pod pod) {
    return api.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> pod.getMetadata().getUid().equals(e.getInvolvedObject().getUid()))
        .sorted(Comparator.comparing(Event::getReason))
        .toList();
  }

  @Test
  void eachRecoveryAndEachFailureIsAnEventOnItsPodNextToTheMetrics() {
    Pod app = appPod("app-1");
    Pod other = appPod("app-2");
    PodRecoveryEvents events =
        new PodRecoveryEvents(api, node, apps::pod, Runnable::run, Clock.systemUTC());
    DriverMetrics metrics = new DriverMetrics();
    AtomicInteger broken = new AtomicInteger();
    ContainerRecoveryListener all =
        ContainerRecoveryListener.all(
            List.of(
                metrics,
                o -> {
                  broken.incrementAndGet();
                  throw new IllegalStateException("a listener that fails");
                },
                events));

    // Recovered: the pod from the target path. Failed: the pod from the cgroup, with the reason.
    all.onOutcome(
        new ContainerOutcome(
            "pv-1",
            Optional.of(target(app)),
            4242,
            4026532000L,
            Path.of("/data"),
            Path.of("/mnt/pv-1-abc"),
            Optional.empty(),
            true,
            false,
            "bound again",
            Duration.ofMillis(12)));
    all.onOutcome(
        new ContainerOutcome(
            "pv-1",
            Optional.of(target(other)),
            4343,
            4026532001L,
            Path.of("/data"),
            Path.of("/mnt/pv-1-abc"),
            Optional.of(other.getMetadata().getUid()),
            false,
            false,
            "the container's mount namespace is gone",
            Duration.ofMillis(3)));
    // A container of no pod this node knows: no Event, and nothing thrown.
    all.onOutcome(
        new ContainerOutcome(
            "pv-1",
            Optional.empty(),
            1,
            2,
            Path.of("/x"),
            Path.of("/y"),
            Optional.of("00000000-0000-0000-0000-000000000000"),
            true,
            false,
            "ok",
            Duration.ZERO));

    assertThat(broken).hasValue(3);
    assertThat(metrics.scrape())
        .contains("jfscsi_container_recoveries_total{outcome=\"recovered\"} 2.0")
        .contains("jfscsi_container_recoveries_total{outcome=\"failed\"} 1.0");

    List<Event> ok = events(app);
    assertThat(ok)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.getReason()).isEqualTo(PodRecoveryEvents.RECOVERED);
              assertThat(e.getType()).isEqualTo("Normal");
              assertThat(e.getInvolvedObject().getKind()).isEqualTo("Pod");
              assertThat(e.getInvolvedObject().getName()).isEqualTo("app-1");
              assertThat(e.getInvolvedObject().getNamespace()).isEqualTo(ns);
              assertThat(e.getSource().getComponent()).isEqualTo("jfs-csi-node");
              assertThat(e.getSource().getHost()).isEqualTo(node);
              assertThat(e.getMessage())
                  .contains("pv-1")
                  .contains("recovered")
                  .contains("/mnt/pv-1-abc");
              assertThat(e.getCount()).isEqualTo(1);
            });
    List<Event> failed = events(other);
    assertThat(failed)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.getReason()).isEqualTo(PodRecoveryEvents.FAILED);
              assertThat(e.getType()).isEqualTo("Warning");
              assertThat(e.getInvolvedObject().getName()).isEqualTo("app-2");
              assertThat(e.getMessage())
                  .contains("NOT recovered")
                  .contains("mount namespace is gone");
            });
    // kubectl describe pod finds them through the field selector on involvedObject.
    assertThat(
            api.v1()
                .events()
                .inNamespace(ns)
                .withField("involvedObject.uid", app.getMetadata().getUid())
                .list()
                .getItems())
        .hasSize(1);
  }

  @Test
  void theRuntimeOfTheNodePostsThroughItsInformer() throws Exception {
    Pod app = appPod("app-3");
    KubeRuntimeConfig config =
        new KubeRuntimeConfig(
            node,
            ns,
            "juicedata/mount:test",
            "",
            "",
            Duration.ofSeconds(20),
            Duration.ofSeconds(2),
            Path.of("/tmp/unused-mount-root"));
    try (KubeMountRuntime runtime =
        new KubeMountRuntime(
            config, api, new FakeMounter(), new RequestCounter(), Duration.ofSeconds(1), false)) {
      await().atMost(Duration.ofSeconds(20)).until(runtime::ready);
      runtime
          .recoveryEvents()
          .onOutcome(
              new ContainerOutcome(
                  "pv-1",
                  Optional.of(target(app)),
                  1,
                  2,
                  Path.of("/data"),
                  Path.of("/mnt/x"),
                  Optional.empty(),
                  true,
                  false,
                  "ok",
                  Duration.ZERO));
      await().atMost(Duration.ofSeconds(10)).until(() -> events(app).size() == 1);
      assertThat(events(app).getFirst().getReason()).isEqualTo(PodRecoveryEvents.RECOVERED);
    }
  }
}
