package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node plugin's RBAC for real: the driver (node role, runtime kubernetes) authenticates as a
 * ServiceAccount bound to exactly the rules of deploy/base/rbac-node.yaml and goes through a
 * volume's whole life on its node, published by the kubelet stand-in: Mount Pod and its Secret
 * created, the pod read through the informer and patched, shared, deleted and replaced (its
 * finalizer removed), app pods listed and watched cluster-wide, the last release deleting the pod
 * and the Secret, and the clean-cache Job created, watched and deleted. A call the manifest does
 * not allow fails the test: through its effect, and through the log, which must not show a single
 * 403.
 */
class NodeRbacClusterTest {
  @TempDir Path dir;
  PublishingNode node;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new PublishingNode(dir, "noderbac").withNodeRbac(dir.resolve("node.kubeconfig"));
    node.startDriver().startKubelet();
  }

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void aVolumesLifeOnTheNodeNeedsNoMoreThanTheManifestsRules() throws Exception {
    Path cache = Files.createDirectories(dir.resolve("cache"));
    String pv =
        node.staticVolume(
            "data", Map.of("juicefs/clean-cache", "true"), List.of("cache-dir=" + cache));

    // The first app pod: a Mount Pod (and its Secret) is created, becomes Ready, the target is
    // bound.
    Pod app1 = node.appPod("app-1", "data");
    node.awaitRunning("app-1");
    Path t1 = node.target(app1, pv);
    Files.writeString(t1.resolve("hello.txt"), "through the Mount Pod");
    assertThat(node.driver.data.resolve("hello.txt")).hasContent("through the Mount Pod");
    Pod first = node.onlyMountPod().orElseThrow();
    assertThat(MountPodWatch.runningAndReady(first)).isTrue();
    assertThat(first.getMetadata().getFinalizers()).contains(MountPodNames.FINALIZER);
    assertThat(PublishingNode.references(first)).containsExactly(t1.toString());
    String secret =
        PodSource.parse(first.getMetadata().getAnnotations().get(MountPodNames.SOURCE))
            .orElseThrow()
            .secret();
    assertThat(node.api.secrets().inNamespace(node.namespace).withName(secret).get()).isNotNull();

    // A second app pod shares it (a patch of the pod's annotations).
    Pod app2 = node.appPod("app-2", "data");
    node.awaitRunning("app-2");
    Path t2 = node.target(app2, pv);
    assertThat(t2.resolve("hello.txt")).hasContent("through the Mount Pod");
    assertThat(node.onlyMountPod().orElseThrow().getMetadata().getName())
        .isEqualTo(first.getMetadata().getName());
    assertThat(PublishingNode.references(node.onlyMountPod().orElseThrow()))
        .containsExactlyInAnyOrder(t1.toString(), t2.toString());
    String uuid =
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () ->
                    node.onlyMountPod()
                        .map(p -> p.getMetadata().getAnnotations().get(MountPodNames.UUID))
                        .orElse(null),
                u -> u != null && !u.isBlank());
    assertThat(cache.resolve(uuid)).isDirectory();

    // The Mount Pod is deleted: the driver removes its finalizer and a new one serves both.
    node.api.pods().inNamespace(node.namespace).withName(first.getMetadata().getName()).delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Pod now = node.onlyMountPod().orElseThrow();
              assertThat(now.getMetadata().getName()).isNotEqualTo(first.getMetadata().getName());
              assertThat(MountPodWatch.runningAndReady(now)).isTrue();
              assertThat(PublishingNode.references(now))
                  .containsExactlyInAnyOrder(t1.toString(), t2.toString());
              Files.writeString(t1.resolve("after.txt"), "again");
              assertThat(t2.resolve("after.txt")).hasContent("again");
            });
    assertThat(node.mountPod(first.getMetadata().getName()))
        .as("the old pod, finalizer removed")
        .isNull();

    // The app pods go: kubelet unpublishes; the last release deletes the pod and its Secret, and
    // the Job removes the volume's cache.
    node.api.pods().inNamespace(node.namespace).withName("app-1").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                node.onlyMountPod()
                    .map(p -> PublishingNode.references(p).equals(Set.of(t2.toString())))
                    .orElse(false));
    node.api.pods().inNamespace(node.namespace).withName("app-2").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(node.mountPods()).isEmpty();
              assertThat(node.api.secrets().inNamespace(node.namespace).withName(secret).get())
                  .isNull();
              assertThat(cache.resolve(uuid)).doesNotExist();
            });
    // The Job succeeded (its pod ran on this node) and the driver deleted it.
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                node.api
                    .batch()
                    .v1()
                    .jobs()
                    .inNamespace(node.namespace)
                    .list()
                    .getItems()
                    .isEmpty());

    assertThat(node.forbiddenCalls()).as("calls the manifest does not allow").isEmpty();
  }
}
