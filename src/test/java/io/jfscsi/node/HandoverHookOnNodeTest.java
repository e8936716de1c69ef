package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.jfscsi.client.ClientKey;
import io.jfscsi.runtime.kube.FusePassing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Mount Pod's handover hook (smooth upgrade) under a real kubelet and containerd: the pod as
 * {@link FusePassing} shapes it (the client's host directory at /tmp, the preStop hook), running a
 * stand-in for the JuiceFS client's two processes: a supervisor (PID 1) that exits 0 once its child
 * has gone, as juicefs's does after its FUSE fd was taken away, and a child that, on SIGHUP, saves
 * its state in /tmp and exits 1, as the serving juicefs process does. With the marker, the pod's
 * deletion runs the hook before kubelet's SIGTERM: the child is signalled, saves its state in the
 * host directory (where a successor reads it), and the pod goes long before its 120 s grace,
 * without kubelet starting the container again. Without the marker nothing is signalled. (The real
 * juicefs and its FUSE handover cannot be run here: see docs/operations.md.)
 */
class HandoverHookOnNodeTest {
  static final ClientKey KEY = new ClientKey("pvc-handover", "0123456789abcdef0123456789abcdef");

  /** The client's two processes; the child's pid, in the pod, is written to /tmp/child.pid. */
  static final String STANDIN =
      """
      sh -c 'trap "echo saved > /tmp/state1.json; exit 1" HUP; while :; do sleep 0.1; done' &
      echo $! > /tmp/child.pid
      wait $!
      exit 0
      """;

  private static NodeNamespace space;
  private static Path fdRoot;

  @BeforeAll
  static void up() throws IOException {
    space = NodeNamespace.create("node-handover");
    fdRoot = Files.createDirectories(Path.of("/tmp", "jfs-csi-handover-" + space.ns));
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (space != null) {
      space.close();
    }
    if (fdRoot != null && Files.exists(fdRoot)) {
      try (var walk = Files.walk(fdRoot)) {
        for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(f);
        }
      }
    }
  }

  @Test
  void withTheMarkerTheClientIsSignalledSavesItsStateAndThePodGoesBeforeItsGrace()
      throws Exception {
    String name = "handover-marked";
    Path dir = started(name);
    long child = Long.parseLong(Files.readString(dir.resolve("child.pid")).strip());
    Files.writeString(dir.resolve(FusePassing.handoverMarker(name)), Long.toString(child));

    Instant deleted = Instant.now();
    space.kube.pods().inNamespace(space.ns).withName(name).withGracePeriod(120).delete();
    space.await(
        Duration.ofSeconds(60),
        "pod " + name + " gone",
        () -> space.kube.pods().inNamespace(space.ns).withName(name).get() == null);
    Duration took = Duration.between(deleted, Instant.now());
    System.out.printf(
        "handover hook: pod gone %d ms after its deletion (grace 120 s)%n", took.toMillis());

    assertThat(dir.resolve("state1.json"))
        .as("the child was signalled and saved its state in the client's host directory")
        .hasContent("saved");
    assertThat(took)
        .as("gone once the client exited, not at the grace's end")
        .isLessThan(Duration.ofSeconds(60));
  }

  @Test
  void withoutTheMarkerNothingIsSignalled() throws Exception {
    String name = "handover-plain";
    Path dir = started(name);

    space.kube.pods().inNamespace(space.ns).withName(name).withGracePeriod(3).delete();
    space.await(
        Duration.ofSeconds(60),
        "pod " + name + " gone",
        () -> space.kube.pods().inNamespace(space.ns).withName(name).get() == null);

    assertThat(dir.resolve("state1.json")).as("no SIGHUP without an upgrade").doesNotExist();
  }

  /** Pod NAME shaped by FusePassing and Running, the stand-in's child started; its host dir. */
  private static Path started(String name) {
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("jfs-mount")
            .withImage("juicedata/mount:ce-v1.2.1") // a client that passes its fd, by its tag
            .endContainer()
            .endSpec()
            .build();
    Path dir = FusePassing.apply(pod, fdRoot.resolve(name).toString(), KEY).orElseThrow();
    assertThat(FusePassing.handsOver(pod)).isTrue();
    Container c = pod.getSpec().getContainers().getFirst();
    c.setImage(NodeNamespace.MOUNT_IMAGE); // what runs here: the stand-in above
    c.setImagePullPolicy("Never");
    c.setCommand(java.util.List.of("sh", "-c", STANDIN));
    space.create(pod);
    space.awaitRunning(name, Duration.ofMinutes(2));
    space.await(
        Duration.ofSeconds(30),
        "the stand-in's child",
        () -> Files.exists(dir.resolve("child.pid")));
    return dir;
  }
}
