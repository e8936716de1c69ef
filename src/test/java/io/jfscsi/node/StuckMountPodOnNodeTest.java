package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.jfscsi.host.FuseConnections;
import io.jfscsi.host.MountInfo;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.RealNode;
import java.io.IOException;
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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A Mount Pod stuck Terminating on a dead FUSE connection under a real kubelet: its client is
 * stopped, a process in its container asks the mount for something, and that request is taken by a
 * second reader of the connection that never answers ({@link FuseRequestTaker}). When the driver
 * deletes the pod (the app is gone and the delete delay over), kubelet kills the container, but the
 * asking process sleeps uninterruptibly and holds the container's pid namespace: the pod stays
 * Terminating. With {@code enableAutoAbortStuckMountPod} the node plugin aborts the connection one
 * minute after the deletion (the pods' grace is 10 s) and the pod goes; without it nothing is
 * aborted and the pod is still there long after, until the test aborts the connection by hand.
 */
class StuckMountPodOnNodeTest {
  private static final String CONFIG_MAP = "juicefs-csi-driver-config";
  private static final Duration DELETE_DELAY = Duration.ofSeconds(20);

  /** max(2 x 10 s grace, 1 minute): when the driver looks, after the pod's deletion. */
  private static final Duration STUCK_AFTER = Duration.ofMinutes(1);

  private static NodeNamespace space;

  @BeforeAll
  static void up() {
    space = NodeNamespace.create("node-stuck");
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (space != null) {
      space.kube.configMaps().inNamespace(RealNode.NAMESPACE).withName(CONFIG_MAP).delete();
      space.close();
    }
  }

  /** What a case leaves behind: freed whatever happened, so no pod stays stuck on the node. */
  private FuseRequestTaker taker;

  private ProcessHandle client;
  private Process asking;
  private Path fusectl;
  private int connection = -1;

  @AfterEach
  void free() throws Exception {
    if (connection >= 0 && fusectl != null) {
      try {
        new FuseConnections(fusectl).abort(connection);
      } catch (IOException e) {
        // gone already
      }
    }
    if (taker != null) {
      taker.close();
    }
    if (client != null && client.isAlive()) {
      run("kill", "-CONT", Long.toString(client.pid()));
    }
    if (asking != null) {
      asking.destroyForcibly();
    }
    if (fusectl != null) {
      run("umount", "-l", fusectl.toString());
      Files.deleteIfExists(fusectl);
    }
  }

  @Test
  void with_the_switch_on_a_pod_stuck_on_its_connection_is_aborted_and_goes() throws Exception {
    Stuck stuck = stickMountPod("aborted", true);

    space.await(
        STUCK_AFTER.plusSeconds(60),
        "the stuck Mount Pod " + stuck.pod + " gone after the abort",
        () -> mountPod(stuck.pod) == null,
        Duration.ofSeconds(1));
    Duration gone = Duration.between(stuck.deletedAt, Instant.now());
    System.err.println(
        "StuckMountPodOnNodeTest: stuck pod gone " + gone.toSeconds() + "s after its deletion");
    assertThat(gone)
        .as("still there until it counted as stuck")
        .isGreaterThan(STUCK_AFTER.minusSeconds(5));
    List<Event> aborted =
        space.kube.v1().events().inNamespace(RealNode.NAMESPACE).list().getItems().stream()
            .filter(e -> stuck.pod.equals(e.getInvolvedObject().getName()))
            .filter(e -> "JuiceFSConnectionAborted".equals(e.getReason()))
            .toList();
    assertThat(aborted).as("the abort's Event on the Mount Pod").hasSize(1);
    assertThat(aborted.getFirst().getMessage())
        .contains("connection " + connection)
        .contains("enableAutoAbortStuckMountPod");
    assertThat(asking.waitFor(10, TimeUnit.SECONDS)).as("the asking process is freed").isTrue();
  }

  @Test
  void with_the_switch_off_a_pod_stuck_on_its_connection_stays_and_nothing_is_aborted()
      throws Exception {
    Stuck stuck = stickMountPod("left", false);

    Instant lookedAt = stuck.deletedAt.plus(STUCK_AFTER).plusSeconds(30);
    while (Instant.now().isBefore(lookedAt)) {
      assertThat(mountPod(stuck.pod)).as("the stuck Mount Pod " + stuck.pod).isNotNull();
      Thread.sleep(1000);
    }
    Pod pod = mountPod(stuck.pod);
    assertThat(pod).isNotNull();
    assertThat(pod.getMetadata().getDeletionTimestamp()).isNotNull();
    FuseConnections fuse = new FuseConnections(fusectl);
    assertThat(fuse.waiting(connection).orElse(0)).as("requests still waiting").isPositive();
    assertThat(asking.isAlive()).as("the asking process still sleeps").isTrue();

    // The very abort the switch would have done ends it: the test stuck the pod on nothing else.
    fuse.abort(connection);
    space.await(
        Duration.ofSeconds(60),
        "the Mount Pod " + stuck.pod + " gone after the abort by hand",
        () -> mountPod(stuck.pod) == null,
        Duration.ofSeconds(1));
  }

  private record Stuck(String pod, Instant deletedAt) {}

  /**
   * A volume with an app, its Mount Pod made to hang on its connection after the app is gone;
   * returns once the driver has deleted the pod (after the delete delay).
   */
  private Stuck stickMountPod(String name, boolean abortSwitch) throws Exception {
    setSwitch(abortSwitch);
    String pv =
        space.staticVolume(
            name, Map.of("juicefs/mount-delete-delay", DELETE_DELAY.toSeconds() + "s"), List.of());
    space.create(NodeNamespace.app(name, name, "echo steady > /data/f; exec sleep 3600"));
    space.awaitRunning(name, Duration.ofMinutes(3));
    Pod mountPod = space.mountPodOf(pv);
    String podName = mountPod.getMetadata().getName();
    Path mountPath = Path.of(mountPod.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH));
    client =
        NodeNamespace.clientServing(mountPath)
            .orElseThrow(() -> new AssertionError("no bindfs serves " + mountPath));
    connection = FuseConnections.connectionAt(MountInfo.self(), mountPath).orElseThrow();
    fusectl = Files.createTempDirectory("jfs-csi-fusectl-");

    // The app goes (unpublished while the client still answers); the client lives on for the
    // delete delay: hang it meanwhile.
    space.kube.pods().inNamespace(space.ns).withName(name).delete();
    space.await(
        Duration.ofSeconds(60),
        "app " + name + " gone",
        () -> space.kube.pods().inNamespace(space.ns).withName(name).get() == null);
    taker = FuseRequestTaker.of(client.pid());
    run("kill", "-STOP", Long.toString(client.pid()));
    asking =
        new ProcessBuilder(
                "nsenter",
                "-t",
                Long.toString(client.pid()),
                "-m",
                "-p",
                "stat",
                mountPath.resolve("asked-while-hung").toString())
            .redirectErrorStream(true)
            .start();
    int opcode = taker.takeOne(Duration.ofSeconds(20));
    assertThat(new FuseConnections(fusectl).waiting(connection).orElse(0))
        .as("requests waiting on connection %d (taken: opcode %d)", connection, opcode)
        .isPositive();

    space.await(
        DELETE_DELAY.plusSeconds(40),
        "the driver deletes Mount Pod " + podName,
        () -> {
          Pod p = mountPod(podName);
          return p != null && p.getMetadata().getDeletionTimestamp() != null;
        },
        Duration.ofSeconds(1));
    Pod deleted = mountPod(podName);
    Instant deletedAt =
        Instant.parse(deleted.getMetadata().getDeletionTimestamp())
            .minusSeconds(deleted.getMetadata().getDeletionGracePeriodSeconds());
    return new Stuck(podName, deletedAt);
  }

  private static Pod mountPod(String name) {
    return space.kube.pods().inNamespace(RealNode.NAMESPACE).withName(name).get();
  }

  /** The global ConfigMap with only the switch, once the node plugin has taken it in. */
  private static void setSwitch(boolean on) throws Exception {
    double before = acceptedConfigs();
    space
        .kube
        .configMaps()
        .inNamespace(RealNode.NAMESPACE)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(CONFIG_MAP)
                .endMetadata()
                .withData(Map.of("config.yaml", "enableAutoAbortStuckMountPod: " + on + "\n"))
                .build())
        .createOr(NonDeletingOperation::update);
    space.await(
        Duration.ofSeconds(30),
        "the node plugin takes in enableAutoAbortStuckMountPod: " + on,
        () -> acceptedConfigs() > before);
  }

  private static double acceptedConfigs() {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:9560/metrics")).build(),
              HttpResponse.BodyHandlers.ofString())
          .body()
          .lines()
          .filter(l -> l.startsWith("jfscsi_config_loads_total{result=\"accepted\"}"))
          .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
          .findFirst()
          .orElse(0);
    } catch (IOException | InterruptedException e) {
      return 0;
    }
  }

  private static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    p.waitFor(30, TimeUnit.SECONDS);
  }
}
