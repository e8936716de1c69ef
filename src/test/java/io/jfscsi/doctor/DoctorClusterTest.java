package io.jfscsi.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.cli.Main;
import io.jfscsi.testing.KubeCluster;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * `jfs-csi doctor` against the real kube-apiserver (and kube-controller-manager, which binds PVs),
 * each failure staged with real objects: the answer must name the side and the cause.
 */
class DoctorClusterTest {

  static final String DRIVER = "csi.juicefs.com";

  KubeCluster cluster;
  KubernetesClient k;
  String ns;
  final StringWriter out = new StringWriter();

  @BeforeEach
  void setUp() {
    cluster = KubeCluster.shared();
    k = cluster.client();
    ns = cluster.newNamespace("doctor");
    cluster.createNode(ns + "-node");
  }

  int doctor(String kind, String name) {
    return Main.commandLine()
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(out))
        .execute("doctor", kind, ns + "/" + name, "--kubeconfig", cluster.kubeconfig().toString());
  }

  @Test
  void aPvcOfAMissingStorageClassIsTheControllerSide() {
    k.persistentVolumeClaims().inNamespace(ns).resource(pvc("data", ns + "-nope")).create();
    assertThat(doctor("pvc", "data")).isEqualTo(3);
    assertThat(out.toString())
        .contains("pvc " + ns + "/data: Pending, storageClass " + ns + "-nope")
        .contains(
            "verdict: PV not created (controller side): the StorageClass "
                + ns
                + "-nope does not exist");
  }

  @Test
  void aProvisionerSecretWithoutMetaurlIsNamedAndItsValuesAreNotPrinted() {
    secret("jfs", Map.of("name", "vol", "access-key", "AKIA-DO-NOT-PRINT"));
    storageClass(ns + "-sc");
    k.persistentVolumeClaims().inNamespace(ns).resource(pvc("data", ns + "-sc")).create();
    assertThat(doctor("pvc", "data")).isEqualTo(3);
    assertThat(out.toString())
        .contains(
            "verdict: PV not created (controller side): the driver "
                + "refuses the StorageClass and its secret:")
        .contains("metaurl")
        .contains("provisioner secret " + ns + "/jfs: keys [access-key, name]")
        .doesNotContain("AKIA-DO-NOT-PRINT");
  }

  @Test
  void writebackOnAStaticPvIsRefusedOnTheNodeSide() {
    boundStaticVolume("data", List.of("writeback"));
    k.pods().inNamespace(ns).resource(appPod("app", "data")).create();
    assertThat(doctor("pod", "app")).isEqualTo(3);
    assertThat(out.toString())
        .contains("verdict: pod not starting (node side): " + "NodePublishVolume is refused:")
        .contains("writeback");
  }

  @Test
  void mountPodFailuresAreNamedFromTheirStatus() {
    String pv = boundStaticVolume("data", List.of());
    k.pods().inNamespace(ns).resource(appPod("app", "data")).create();

    assertThat(doctor("pod", "app")).isEqualTo(3);
    assertThat(out.toString())
        .contains(
            "verdict: pod not starting (node side): no Mount Pod "
                + "serves volume "
                + pv
                + " on node "
                + ns
                + "-node");

    Pod mountPod = k.pods().inNamespace(ns).resource(mountPod(pv)).create();
    setStatus(
        mountPod,
        new ContainerStatusBuilder()
            .withName("jfs-mount")
            .withImage("juicedata/mount:does-not-exist")
            .withImageID("")
            .withRestartCount(0)
            .withReady(false)
            .withNewState()
            .withNewWaiting()
            .withReason("ImagePullBackOff")
            .withMessage("Back-off pulling image")
            .endWaiting()
            .endState()
            .build());
    out.getBuffer().setLength(0);
    assertThat(doctor("pod", "app")).isEqualTo(3);
    assertThat(out.toString())
        .contains(
            "verdict: pod not starting (Mount Pod): the Mount Pod's "
                + "image cannot be pulled: juicedata/mount:does-not-exist");

    setStatus(
        mountPod,
        new ContainerStatusBuilder()
            .withName("jfs-mount")
            .withImage("juicedata/mount:ce")
            .withImageID("")
            .withRestartCount(5)
            .withReady(false)
            .withNewState()
            .withNewWaiting()
            .withReason("CrashLoopBackOff")
            .endWaiting()
            .endState()
            .withNewLastState()
            .withNewTerminated()
            .withExitCode(1)
            .withReason("Error")
            .withMessage("<FATAL>: load setting: dial tcp: lookup redis.example: no such host")
            .endTerminated()
            .endLastState()
            .build());
    out.getBuffer().setLength(0);
    assertThat(doctor("pod", "app")).isEqualTo(3);
    assertThat(out.toString())
        .contains(
            "verdict: pod not starting (Mount Pod): the JuiceFS "
                + "client cannot reach its metadata engine (wrong metaurl?)")
        .contains("no such host");
  }

  @Test
  void aStaleMountReportedByKubeletIsTheNodeSideAndAHealthyChainIsSaidToBe() {
    String pv = boundStaticVolume("data", List.of());
    Pod app = k.pods().inNamespace(ns).resource(appPod("app", "data")).create();
    Pod mountPod = k.pods().inNamespace(ns).resource(mountPod(pv)).create();
    setStatus(
        mountPod,
        new ContainerStatusBuilder()
            .withName("jfs-mount")
            .withImage("m")
            .withImageID("")
            .withRestartCount(0)
            .withReady(true)
            .withNewState()
            .withNewRunning()
            .endRunning()
            .endState()
            .build());
    k.v1()
        .events()
        .inNamespace(ns)
        .resource(
            new EventBuilder()
                .withNewMetadata()
                .withName("app.stale")
                .endMetadata()
                .withNewInvolvedObject()
                .withKind("Pod")
                .withNamespace(ns)
                .withName("app")
                .withUid(app.getMetadata().getUid())
                .endInvolvedObject()
                .withReason("FailedMount")
                .withType("Warning")
                .withMessage(
                    "MountVolume.SetUp failed: stat /var/lib/kubelet/pods/x/volumes/"
                        + "kubernetes.io~csi/"
                        + pv
                        + "/mount: transport endpoint is not connected")
                .withFirstTimestamp("2026-11-26T10:00:00Z")
                .withLastTimestamp("2026-11-26T10:00:00Z")
                .withCount(1)
                .build())
        .create();
    assertThat(doctor("pod", "app")).isEqualTo(3);
    assertThat(out.toString()).contains("verdict: pod not starting (node side): a stale mount");

    k.v1().events().inNamespace(ns).withName("app.stale").delete();
    setStatus(
        app,
        new ContainerStatusBuilder()
            .withName("app")
            .withImage("busybox")
            .withImageID("")
            .withRestartCount(0)
            .withReady(true)
            .withNewState()
            .withNewRunning()
            .endRunning()
            .endState()
            .build());
    out.getBuffer().setLength(0);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              out.getBuffer().setLength(0);
              return doctor("pod", "app") == 0;
            });
    assertThat(out.toString())
        .contains("verdict: no failure found: the pod runs and its volume " + "is served");
  }

  // ---- staging ---------------------------------------------------------------------------

  void secret(String name, Map<String, String> data) {
    k.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withStringData(data)
                .build())
        .create();
  }

  void storageClass(String name) {
    k.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withProvisioner(DRIVER)
                .withReclaimPolicy("Delete")
                .withParameters(
                    Map.of(
                        Doctor.PROVISIONER_SECRET_NAME,
                        "jfs",
                        Doctor.PROVISIONER_SECRET_NAMESPACE,
                        ns))
                .build())
        .create();
  }

  static PersistentVolumeClaim pvc(String name, String storageClass) {
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withStorageClassName(storageClass)
        .withAccessModes("ReadWriteMany")
        .withNewResources()
        .addToRequests("storage", new Quantity("1Gi"))
        .endResources()
        .endSpec()
        .build();
  }

  /** A static PV with its secret, and a PVC that kube-controller-manager binds to it. */
  String boundStaticVolume(String claim, List<String> mountOptions) {
    String pv = ns + "-pv";
    secret("jfs", Map.of("name", "vol", "metaurl", "redis://:pw@redis:6379/1"));
    k.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .addToCapacity("storage", new Quantity("1Gi"))
                .withAccessModes("ReadWriteMany")
                .withPersistentVolumeReclaimPolicy("Retain")
                .withStorageClassName("")
                .withMountOptions(mountOptions)
                .withNewCsi()
                .withDriver(DRIVER)
                .withVolumeHandle(pv)
                .withFsType("juicefs")
                .withNewNodePublishSecretRef()
                .withName("jfs")
                .withNamespace(ns)
                .endNodePublishSecretRef()
                .endCsi()
                .endSpec()
                .build())
        .create();
    k.persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder(pvc(claim, ""))
                .editSpec()
                .withVolumeName(pv)
                .endSpec()
                .build())
        .create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                "Bound"
                    .equals(
                        k.persistentVolumeClaims()
                            .inNamespace(ns)
                            .withName(claim)
                            .get()
                            .getStatus()
                            .getPhase()));
    return pv;
  }

  Pod appPod(String name, String claim) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withNodeName(ns + "-node")
        .addNewContainer()
        .withName("app")
        .withImage("busybox")
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
        .build();
  }

  Pod mountPod(String volumeId) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("juicefs-" + ns + "-node-" + volumeId)
        .addToLabels("app.kubernetes.io/name", "juicefs-mount")
        .addToLabels("volume-id", volumeId)
        .endMetadata()
        .withNewSpec()
        .withNodeName(ns + "-node")
        .addNewContainer()
        .withName("jfs-mount")
        .withImage("juicedata/mount:ce")
        .endContainer()
        .endSpec()
        .build();
  }

  void setStatus(Pod pod, ContainerStatus status) {
    Pod current = k.pods().inNamespace(ns).withName(pod.getMetadata().getName()).get();
    current.setStatus(
        new PodStatusBuilder()
            .withPhase(Boolean.TRUE.equals(status.getReady()) ? "Running" : "Pending")
            .withContainerStatuses(status)
            .build());
    k.pods().inNamespace(ns).resource(current).updateStatus();
  }
}
