package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.jfscsi.cli.Main;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.PodSource;
import io.jfscsi.testing.RealNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What users do with volumes, under a real kubelet: a static PV on data that is already in the file
 * system, two sub-paths of one claim, a PV asking for writeback (refused, with the driver's words
 * in the pod's Events); and the command-line tools on this node's pods: {@code jfs-csi doctor} on a
 * healthy and on broken pods, {@code jfs-csi warmup --pvc} through the API's exec into the Mount
 * Pod.
 */
class VolumesOnNodeTest {
  private static NodeNamespace space;

  @BeforeAll
  static void up() {
    space = NodeNamespace.create("node-vol");
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (space != null) {
      space.close();
    }
  }

  @Test
  void a_static_pv_serves_existing_data_which_doctor_calls_healthy_and_warmup_warms()
      throws Exception {
    // Data already in the file system (written by another client: here straight into the
    // stand-in's store), one project of which the PV serves, as deploy/examples does.
    String fs = space.ns + "-existing";
    Path alpha = Files.createDirectories(space.dataOf(fs).resolve("projects/alpha/reports"));
    Files.writeString(alpha.resolve("q3.txt"), "alpha report");
    Files.write(alpha.resolve("model.bin"), new byte[4096]);
    Files.createDirectories(space.dataOf(fs).resolve("projects/beta"));
    Files.writeString(space.dataOf(fs).resolve("projects/beta/other.txt"), "not alpha's");
    String pv =
        space.staticVolume(
            "existing",
            Map.of("subPath", "projects/alpha"),
            List.of("cache-size=10240", "open-cache=1"));
    assertThat(pv).isEqualTo(fs);
    space.create(
        NodeNamespace.app(
            "reader", "existing", "cat /data/reports/q3.txt; echo; ls -A /data; exec sleep 3600"));
    space.awaitRunning("reader", Duration.ofMinutes(3));
    space.await(
        Duration.ofSeconds(30), "reader's log", () -> space.log("reader").contains("reports"));
    assertThat(space.log("reader").lines().toList()).containsExactly("alpha report", "reports");
    String script = space.mountPodOf(pv).getSpec().getContainers().get(0).getCommand().get(2);
    assertThat(script)
        .as("the PV's mount options reach the client")
        .contains("--cache-size=10240")
        .contains("--open-cache=1");

    StringWriter doctor = new StringWriter();
    assertThat(
            run(
                doctor,
                "doctor",
                "pod",
                space.ns + "/reader",
                "--kubeconfig",
                space.node.kubeconfig().toString()))
        .as(doctor.toString())
        .isZero();
    assertThat(doctor.toString())
        .contains("pv " + pv + ": volumeHandle " + pv)
        .contains("verdict: no failure found: the pod runs and its volume is served");

    Instant started = Instant.now();
    StringWriter warmup = new StringWriter();
    int warmed =
        run(
            warmup,
            "warmup",
            "--pvc",
            space.ns + "/existing",
            "--kubeconfig",
            space.node.kubeconfig().toString(),
            "--timeout",
            "60",
            "--threads",
            "4",
            "reports");
    System.err.printf(
        "VolumesOnNodeTest: warmup --pvc took %d ms%n",
        Duration.between(started, Instant.now()).toMillis());
    assertThat(warmed).as(warmup.toString()).isZero();
    Pod mountPod = space.mountPodOf(pv);
    assertThat(warmup.toString())
        .contains(
            RealNode.NAMESPACE
                + "/"
                + mountPod.getMetadata().getName()
                + " on node "
                + RealNode.NODE_NAME
                + ": juicefs warmup --threads=4 "
                + mountPod.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH)
                + "/projects/alpha/reports")
        .contains("warmed up 2 files (4108 bytes)")
        .contains("exit code 0");
    StringWriter missing = new StringWriter();
    assertThat(
            run(
                missing,
                "warmup",
                "--pvc",
                space.ns + "/existing",
                "--kubeconfig",
                space.node.kubeconfig().toString(),
                "--timeout",
                "60",
                "reports",
                "nope"))
        .as(missing.toString())
        .isNotZero();
    assertThat(missing.toString())
        .contains("nope does not exist")
        .containsPattern("exit code [1-9]")
        .doesNotContain("warmed up");

    space.kube.pods().inNamespace(space.ns).withName("reader").delete();
    space.await(Duration.ofMinutes(2), "the Mount Pod gone", () -> space.noMountPodOf(pv));
    space.removeClaimAndVolume("existing", pv);
    assertThat(space.dataOf(fs).resolve("projects/beta/other.txt"))
        .as("the rest of the data")
        .hasContent("not alpha's");
    assertThat(alpha.resolve("q3.txt"))
        .as("a static PV's data outlives its pods")
        .hasContent("alpha report");
  }

  @Test
  void two_sub_paths_of_one_claim_each_see_their_own_directory() throws Exception {
    String pv = space.staticVolume("halves", Map.of(), List.of());
    String script =
        "echo \"written by $ME\" > /data/owner; sleep 2; ls -A /data; cat /data/owner;"
            + " exec sleep 3600";
    space.create(
        new PodBuilder()
            .withNewMetadata()
            .withName("halves")
            .endMetadata()
            .withNewSpec()
            .withTerminationGracePeriodSeconds(1L)
            .withContainers(half("left", script), half("right", script))
            .addNewVolume()
            .withName("data")
            .withNewPersistentVolumeClaim()
            .withClaimName("halves")
            .endPersistentVolumeClaim()
            .endVolume()
            .endSpec()
            .build());
    space.awaitRunning("halves", Duration.ofMinutes(3));
    for (String side : List.of("left", "right")) {
      space.await(
          Duration.ofSeconds(30),
          side + "'s log",
          () -> containerLog("halves", side).contains("written by"));
      assertThat(containerLog("halves", side).lines().toList())
          .as("the container of sub-path " + side + " sees only its own directory")
          .containsExactly("owner", "written by " + side);
      assertThat(space.dataOf(pv).resolve(side).resolve("owner")).hasContent("written by " + side);
    }
    assertThat(
            space
                .kube
                .pods()
                .inNamespace(space.ns)
                .withName("halves")
                .get()
                .getSpec()
                .getNodeName())
        .isNotNull();
    assertThat(space.mountPodOf(pv)).as("one Mount Pod serves both sub-paths").isNotNull();
    space.kube.pods().inNamespace(space.ns).withName("halves").delete();
    space.await(Duration.ofMinutes(2), "the Mount Pod gone", () -> space.noMountPodOf(pv));
    space.removeClaimAndVolume("halves", pv);
  }

  @Test
  void a_pv_asking_for_writeback_is_refused_in_the_pods_events_and_by_the_doctor() {
    String pv = space.staticVolume("writeback", Map.of(), List.of("writeback"));
    space.create(NodeNamespace.app("writeback", "writeback", "exec sleep 3600"));
    space.await(
        Duration.ofMinutes(2),
        "a FailedMount event with the driver's refusal",
        () ->
            space.events("writeback").stream()
                .anyMatch(
                    e ->
                        e.getMessage() != null
                            && e.getMessage().contains("InvalidArgument")
                            && e.getMessage().contains("writeback")
                            && e.getMessage()
                                .contains("is refused: with writeback the JuiceFS client")));
    Pod pod = space.kube.pods().inNamespace(space.ns).withName("writeback").get();
    assertThat(pod.getStatus().getPhase()).isEqualTo("Pending");
    assertThat(space.noMountPodOf(pv)).as("no Mount Pod for a refused volume").isTrue();

    StringWriter doctor = new StringWriter();
    assertThat(
            run(
                doctor,
                "doctor",
                "pod",
                space.ns + "/writeback",
                "--kubeconfig",
                space.node.kubeconfig().toString()))
        .as(doctor.toString())
        .isEqualTo(3);
    assertThat(doctor.toString())
        .contains("verdict: pod not starting (node side): NodePublishVolume is refused: ")
        .contains("writeback")
        .contains("hint: fix the PV's mountOptions / volumeAttributes or the secret");
    space.kube.pods().inNamespace(space.ns).withName("writeback").delete();
    space.removeClaimAndVolume("writeback", pv);
  }

  /**
   * A volume whose {@code juicefs/mount-image} is not on the node: kubelet cannot pull it (there is
   * no registry), and the driver answers kubelet's publish at once, long before kubelet's 120 s,
   * with the Mount Pod's waiting reason: the app pod's Events say why it does not start. Each retry
   * joins the same Mount Pod; with the app pod and claim gone it goes at pod-ready-timeout (300 s
   * from its creation in deploy/base), with its client Secret and no mount left on the host.
   */
  @Test
  void a_mount_image_not_on_the_node_is_named_in_the_pods_events_long_before_kubelets_deadline()
      throws IOException {
    String image = "localhost/jfs-csi-absent:" + space.ns;
    String pv = space.staticVolume("noimage", Map.of("juicefs/mount-image", image), List.of());
    Instant created = Instant.now();
    space.create(NodeNamespace.app("noimage", "noimage", "exec sleep 3600"));
    space.await(
        Duration.ofSeconds(100),
        "a FailedMount event naming the Mount Pod's image pull error",
        () -> imagePullAnswer(pv).isPresent());
    Duration answered = Duration.between(created, Instant.now());
    Event event = imagePullAnswer(pv).orElseThrow();
    System.err.printf(
        "VolumesOnNodeTest: an absent mount image is in the pod's Events %d ms after the pod's"
            + " creation: %s: %s%n",
        answered.toMillis(), event.getReason(), event.getMessage());
    Pod mountPod = space.mountPodOf(pv);
    String name = mountPod.getMetadata().getName();
    assertThat(event.getReason()).isEqualTo("FailedMount");
    assertThat(event.getMessage())
        .as("what kubelet shows of the driver's answer")
        .startsWith(
            "MountVolume.SetUp failed for volume \"" + pv + "\" : rpc error: code = Unavailable")
        .contains("volume " + pv + " cannot be served until this is fixed")
        .contains("Mount Pod " + name + " is Pending; container jfs-mount is waiting: ")
        .contains(image);
    assertThat(answered)
        .as("answered at once, not at publish-answer-deadline (100 s) nor kubelet's 120 s")
        .isLessThan(Duration.ofSeconds(60));
    Pod app = space.kube.pods().inNamespace(space.ns).withName("noimage").get();
    assertThat(app.getStatus().getPhase()).isEqualTo("Pending");
    assertThat(
            app.getStatus().getContainerStatuses().getFirst().getState().getWaiting().getReason())
        .isEqualTo("ContainerCreating");

    // Kubelet's retries keep the same Mount Pod and get the same answer.
    space.await(
        Duration.ofSeconds(60),
        "a second FailedMount",
        () ->
            space.events("noimage").stream()
                    .filter(e -> "FailedMount".equals(e.getReason()))
                    .mapToInt(e -> e.getCount() == null ? 1 : e.getCount())
                    .sum()
                >= 2);
    assertThat(space.mountPodOf(pv).getMetadata().getName()).isEqualTo(name);
    String secret =
        PodSource.parse(mountPod.getMetadata().getAnnotations().get(MountPodNames.SOURCE))
            .orElseThrow()
            .secret();

    space.kube.pods().inNamespace(space.ns).withName("noimage").delete();
    space.removeClaimAndVolume("noimage", pv);
    space.await(
        Duration.ofSeconds(300 + 60).minus(Duration.between(created, Instant.now())),
        "the Mount Pod deleted at pod-ready-timeout",
        () -> space.mountPodOfOrNull(pv) == null);
    // kubelet 1.20 confirms the end of a pod whose container never started late, more so on a
    // loaded node (it took over a minute once in CI): the driver's part is the deletion above.
    space.await(
        Duration.ofSeconds(180),
        "the Mount Pod gone (kubelet confirmed)",
        () -> space.noMountPodOf(pv));
    space.await(
        Duration.ofSeconds(30),
        "its client Secret gone",
        () -> space.kube.secrets().inNamespace(RealNode.NAMESPACE).withName(secret).get() == null);
    assertThat(Files.readAllLines(Path.of("/proc/self/mountinfo")))
        .as("no mount of the volume left on the host")
        .noneMatch(line -> line.contains(pv));
  }

  /** The newest FailedMount of the app pod "noimage" that names an image pull error, if any. */
  private static Optional<Event> imagePullAnswer(String pv) {
    return space.events("noimage").stream()
        .filter(e -> e.getMessage() != null)
        .filter(e -> e.getMessage().contains("volume " + pv + " cannot be served"))
        .filter(
            e ->
                e.getMessage().contains("is waiting: ErrImagePull")
                    || e.getMessage().contains("is waiting: ImagePullBackOff"))
        .reduce((a, b) -> b);
  }

  /** The same from a StorageClass: no PV is made, the claim's event and the doctor say why. */
  @Test
  void a_storage_class_asking_for_writeback_gets_no_pv_and_the_doctor_says_why() {
    String fs = space.ns + "-wbclass";
    space.secret("wbclass", fs);
    space
        .kube
        .storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(fs)
                .endMetadata()
                .withProvisioner("csi.juicefs.com")
                .withReclaimPolicy("Delete")
                .withVolumeBindingMode("Immediate")
                .withMountOptions("writeback")
                .withParameters(
                    Map.of(
                        "csi.storage.k8s.io/provisioner-secret-name",
                        "wbclass",
                        "csi.storage.k8s.io/provisioner-secret-namespace",
                        space.ns,
                        "csi.storage.k8s.io/node-publish-secret-name",
                        "wbclass",
                        "csi.storage.k8s.io/node-publish-secret-namespace",
                        space.ns))
                .build())
        .create();
    space
        .kube
        .persistentVolumeClaims()
        .inNamespace(space.ns)
        .resource(NodeNamespace.claim("wbclass", fs, null))
        .create();
    space.create(NodeNamespace.app("wbclass", "wbclass", "exec sleep 3600"));
    space.await(
        Duration.ofMinutes(2),
        "ProvisioningFailed with the refusal",
        () ->
            space.events("wbclass").stream()
                .anyMatch(
                    e ->
                        "ProvisioningFailed".equals(e.getReason())
                            && e.getMessage().contains("mount option 'writeback'")));
    assertThat(
            space
                .kube
                .persistentVolumeClaims()
                .inNamespace(space.ns)
                .withName("wbclass")
                .get()
                .getStatus()
                .getPhase())
        .isEqualTo("Pending");

    StringWriter doctor = new StringWriter();
    assertThat(
            run(
                doctor,
                "doctor",
                "pod",
                space.ns + "/wbclass",
                "--kubeconfig",
                space.node.kubeconfig().toString()))
        .as(doctor.toString())
        .isEqualTo(3);
    assertThat(doctor.toString())
        .contains(
            "verdict: PV not created (controller side): the"
                + " driver refuses the StorageClass and its secret: ")
        .contains("writeback");
    space.kube.pods().inNamespace(space.ns).withName("wbclass").delete();
    space.kube.persistentVolumeClaims().inNamespace(space.ns).withName("wbclass").delete();
  }

  @Test
  void the_doctor_names_a_missing_publish_secret_on_the_node_side() {
    String pvName = space.ns + "-nosecret";
    space
        .kube
        .persistentVolumes()
        .resource(
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
                .withName("absent")
                .withNamespace(space.ns)
                .endNodePublishSecretRef()
                .endCsi()
                .endSpec()
                .build())
        .create();
    space
        .kube
        .persistentVolumeClaims()
        .inNamespace(space.ns)
        .resource(NodeNamespace.claim("nosecret", "", pvName))
        .create();
    space.create(NodeNamespace.app("nosecret", "nosecret", "exec sleep 3600"));
    space.await(
        Duration.ofMinutes(2),
        "kubelet's FailedMount",
        () -> space.events("nosecret").stream().anyMatch(e -> "FailedMount".equals(e.getReason())));

    StringWriter doctor = new StringWriter();
    assertThat(
            run(
                doctor,
                "doctor",
                "pod",
                space.ns + "/nosecret",
                "--kubeconfig",
                space.node.kubeconfig().toString()))
        .as(doctor.toString())
        .isEqualTo(3);
    assertThat(doctor.toString())
        .contains(
            "verdict: pod not starting (node side): the node"
                + " publish secret "
                + space.ns
                + "/absent does not exist");
    space.kube.pods().inNamespace(space.ns).withName("nosecret").delete();
    space.removeClaimAndVolume("nosecret", pvName);
  }

  private static Container half(String side, String script) {
    return new ContainerBuilder()
        .withName(side)
        .withImage(NodeNamespace.MOUNT_IMAGE)
        .withImagePullPolicy("Never")
        .withCommand("sh", "-c", script)
        .addNewEnv()
        .withName("ME")
        .withValue(side)
        .endEnv()
        .withVolumeMounts(
            new VolumeMountBuilder()
                .withName("data")
                .withMountPath("/data")
                .withSubPath(side)
                .build())
        .build();
  }

  private static String containerLog(String pod, String container) {
    try {
      return space.kube.pods().inNamespace(space.ns).withName(pod).inContainer(container).getLog();
    } catch (RuntimeException e) {
      return "";
    }
  }

  private static int run(StringWriter out, String... args) {
    return Main.commandLine()
        .setOut(new PrintWriter(out, true))
        .setErr(new PrintWriter(out, true))
        .execute(args);
  }
}
