package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.NamespaceContainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #8 in cluster mode, end to end: an app pod's volume is published by the real driver on the
 * Kubernetes runtime (through the kubelet stand-in), and its container (mount and PID namespaces of
 * its own, its own root and /proc, in the pod's cgroup, the volume at /data with no
 * mountPropagation: see {@link NamespaceContainer}) holds a private copy of the FUSE mount. The
 * Mount Pod's container is killed with SIGKILL; kubelet restarts it in place, the driver binds the
 * targets again and repairs the container's copy, and posts a core/v1 Event {@code
 * JuiceFSContainerRecovered} on the app pod (found by the pod UID in the target path). The driver
 * runs with the node RBAC of the manifests (Events: create).
 */
class ContainerRecoveryClusterTest {
  static final Duration BOUND = Duration.ofSeconds(60);

  @TempDir Path dir;
  PublishingNode node;
  NamespaceContainer container;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new PublishingNode(dir, "recovery").withNodeRbac(dir.resolve("node.kubeconfig"));
    // On a real node the kubelet root is a shared mount.
    run("mount", "--bind", node.driver.kubelet.toString(), node.driver.kubelet.toString());
    run("mount", "--make-shared", node.driver.kubelet.toString());
    node.startDriver().startKubelet();
  }

  @AfterEach
  void stop() throws Exception {
    if (container != null) {
      container.close();
    }
    if (node != null) {
      node.close(); // the driver fixture unmounts the kubelet root's bind too
    }
  }

  @Test
  void aPrivateContainerUsesItsVolumeAgainAfterTheMountPodCrashesAndItsPodGetsAnEvent()
      throws Exception {
    String pv = node.staticVolume("data", Map.of(), List.of());
    Pod app = node.appPod("app-1", "data");
    node.awaitRunning("app-1");
    Path target = node.target(app, pv);
    assertThat(target.toString()).contains("/pods/" + app.getMetadata().getUid() + "/volumes/");
    Files.writeString(target.resolve("before"), "written before the crash");
    Path statusDir = Files.createDirectories(dir.resolve("status"));
    container =
        NamespaceContainer.start(
            "app-1",
            NamespaceContainer.Propagation.PRIVATE,
            target,
            Optional.of(app.getMetadata().getUid()),
            statusDir);
    Pod mountPod = node.onlyMountPod().orElseThrow();
    String name = mountPod.getMetadata().getName();
    int restarts = MountPodWatch.restartCount(mountPod);

    node.kubelet.crash(node.namespace, name);
    long killedAt = System.nanoTime();
    boolean failed = false;
    long recoveredMs = -1;
    while (System.nanoTime() - killedAt < BOUND.toNanos()) {
      if (!container.ok()) {
        failed = true;
      } else if (failed) {
        recoveredMs = (System.nanoTime() - killedAt) / 1_000_000;
        break;
      }
      Thread.sleep(10);
    }
    System.out.printf(
        "Mount Pod container killed: the private container works again after %d ms%n", recoveredMs);
    assertThat(failed).as("the container lost its volume when the client died").isTrue();
    assertThat(recoveredMs)
        .as("the container works again within %s (status %s)", BOUND, container.status())
        .isNotNegative();

    // Restarted in place by kubelet and adopted, or replaced by a new pod: one client serves.
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              // While a replacing pod and the old one both exist there is no "only" pod: an
              // assertion,
              // which the wait retries (a NoSuchElementException would end it at once).
              Optional<Pod> only = node.onlyMountPod();
              assertThat(only).as("the one Mount Pod").isPresent();
              Pod now = only.get();
              assertThat(
                      now.getMetadata().getName().equals(name)
                          ? MountPodWatch.restartCount(now) > restarts
                          : true)
                  .isTrue();
              assertThat(MountPodWatch.runningAndReady(now)).isTrue();
            });
    // From inside the container: the data from before, and new writes reach the volume.
    assertThat(container.inside("cat", container.volume.resolve("before").toString()))
        .isEqualTo("written before the crash");
    container.inside("sh", "-c", "echo after > '" + container.volume.resolve("after") + "'");
    assertThat(node.driver.data.resolve("after")).hasContent("after\n");

    // The Event on the app pod, as kubectl describe pod finds it.
    List<Event> events =
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    node.api
                        .v1()
                        .events()
                        .inNamespace(node.namespace)
                        .withField("involvedObject.uid", app.getMetadata().getUid())
                        .list()
                        .getItems(),
                l -> l.stream().anyMatch(e -> PodRecoveryEvents.RECOVERED.equals(e.getReason())));
    assertThat(events)
        .filteredOn(e -> PodRecoveryEvents.RECOVERED.equals(e.getReason()))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.getType()).isEqualTo("Normal");
              assertThat(e.getInvolvedObject().getKind()).isEqualTo("Pod");
              assertThat(e.getInvolvedObject().getName()).isEqualTo("app-1");
              assertThat(e.getInvolvedObject().getUid()).isEqualTo(app.getMetadata().getUid());
              assertThat(e.getSource().getHost()).isEqualTo(node.node);
              assertThat(e.getMessage()).contains(pv);
            });
    assertThat(events).noneMatch(e -> PodRecoveryEvents.FAILED.equals(e.getReason()));
    assertThat(node.forbiddenCalls()).as("calls the node RBAC does not allow").isEmpty();
  }

  static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", command), out).isZero();
  }
}
