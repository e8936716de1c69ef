package io.jfscsi.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.jfscsi.doctor.Verdict.Side;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The doctor's rules on staged facts: each failure is named on the right side, in words. */
class DoctorTest {

  static final String DRIVER = "csi.juicefs.com";
  final Doctor doctor = new Doctor(DRIVER);
  static final Map<String, String> GOOD_SECRET =
      Map.of("name", "vol", "metaurl", "redis://:hunter2@redis:6379/1");

  @Test
  void aMissingPvcIsTheControllerSide() {
    Verdict v =
        doctor.diagnose(
            facts(
                Optional.of(appPod(false)),
                Optional.empty(),
                Optional.empty(),
                Optional.empty(),
                null,
                null,
                List.of(),
                List.of()));
    assertThat(v.side()).isEqualTo(Side.CONTROLLER);
    assertThat(v.cause()).contains("PVC default/data does not exist");
  }

  @Test
  void aPendingPvcWithAMissingStorageClassOrForeignProvisionerIsTheControllerSide() {
    Verdict missing = doctor.diagnose(claimFacts(Optional.empty(), null, List.of()));
    assertThat(missing.side()).isEqualTo(Side.CONTROLLER);
    assertThat(missing.cause()).contains("StorageClass juicefs-sc does not exist");

    Verdict foreign =
        doctor.diagnose(
            claimFacts(Optional.of(storageClass("ebs.csi.aws.com", Map.of())), null, List.of()));
    assertThat(foreign.cause()).contains("provisioned by ebs.csi.aws.com, not by " + DRIVER);
  }

  @Test
  void aProvisionerSecretWithoutMetaurlIsNamedWithoutItsValues() {
    Verdict v =
        doctor.diagnose(
            claimFacts(
                Optional.of(storageClass(DRIVER, provisionerParameters())),
                new Facts.SecretFact(
                    "kube-system/jfs",
                    Optional.of(Map.of("name", "vol", "access-key", "AKIA-SECRET"))),
                List.of()));
    assertThat(v.side()).isEqualTo(Side.CONTROLLER);
    assertThat(v.cause()).contains("metaurl");
    assertThat(String.join("\n", v.evidence()) + v.cause()).doesNotContain("AKIA-SECRET");
  }

  @Test
  void aMissingProvisionerSecretAndAProvisioningFailedEventAreReported() {
    Verdict gone =
        doctor.diagnose(
            claimFacts(
                Optional.of(storageClass(DRIVER, provisionerParameters())),
                new Facts.SecretFact("kube-system/jfs", Optional.empty()),
                List.of()));
    assertThat(gone.cause()).isEqualTo("the provisioner secret kube-system/jfs does not exist");

    Verdict failed =
        doctor.diagnose(
            claimFacts(
                Optional.of(storageClass(DRIVER, provisionerParameters())),
                new Facts.SecretFact("kube-system/jfs", Optional.of(GOOD_SECRET)),
                List.of(
                    event(
                        "PersistentVolumeClaim",
                        "data",
                        "ProvisioningFailed",
                        "dial tcp 10.0.0.9:6379: connect: connection refused"))));
    assertThat(failed.side()).isEqualTo(Side.CONTROLLER);
    assertThat(failed.cause()).contains("connection refused");
    assertThat(failed.hints().getFirst()).contains("metadata engine");

    Verdict silent =
        doctor.diagnose(
            claimFacts(
                Optional.of(storageClass(DRIVER, provisionerParameters())),
                new Facts.SecretFact("kube-system/jfs", Optional.of(GOOD_SECRET)),
                List.of()));
    assertThat(silent.cause()).contains("no controller has acted");
  }

  @Test
  void writebackInThePvIsRefusedOnTheNodeSideInTheDriversWords() {
    PersistentVolume pv = pv(List.of("writeback", "cache-size=1024"));
    Verdict v = doctor.diagnose(pvFacts(pv, false));
    assertThat(v.side()).isEqualTo(Side.NODE);
    assertThat(v.cause()).startsWith("NodePublishVolume is refused:").contains("writeback");
  }

  @Test
  void aMisspeltJuicefsKeyIsNamedAsEvidenceWhileTheVolumeWorks() {
    PersistentVolume pv = pv(List.of());
    pv.getSpec().getCsi().setVolumeAttributes(Map.of("juicefs/mount-cpu-limits", "2"));
    Verdict v = doctor.diagnose(pvFacts(pv, true));
    assertThat(v.cause()).doesNotContain("refused");
    assertThat(v.evidence())
        .anySatisfy(
            e ->
                assertThat(e)
                    .contains("'juicefs/mount-cpu-limits'", "ignored")
                    .contains("juicefs/mount-cpu-limit"));
  }

  @Test
  void aMissingPublishSecretIsTheNodeSide() {
    Verdict v =
        doctor.diagnose(
            facts(
                Optional.of(appPod(false)),
                Optional.of(boundPvc()),
                Optional.empty(),
                Optional.of(pv(List.of())),
                null,
                new Facts.SecretFact("kube-system/jfs", Optional.empty()),
                List.of(),
                List.of()));
    assertThat(v.side()).isEqualTo(Side.NODE);
    assertThat(v.cause()).contains("secret kube-system/jfs does not exist");
  }

  @Test
  void noMountPodOnTheNodeIsTheNodePluginsFault() {
    Verdict v = doctor.diagnose(nodeFacts(false, List.of(), List.of()));
    assertThat(v.side()).isEqualTo(Side.NODE);
    assertThat(v.cause()).contains("no Mount Pod serves volume pvc-1 on node n1");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName"})
  void anImagePullFailureIsTheMountPodSide(String reason) {
    ContainerStatus pulling =
        new ContainerStatusBuilder()
            .withName("jfs-mount")
            .withImage("juicedata/mount:nope")
            .withRestartCount(0)
            .withReady(false)
            .withNewState()
            .withNewWaiting()
            .withReason(reason)
            .withMessage("Back-off pulling image")
            .endWaiting()
            .endState()
            .build();
    Verdict v = doctor.diagnose(nodeFacts(false, List.of(mountPod(pulling)), List.of()));
    assertThat(v.side()).isEqualTo(Side.MOUNT_POD);
    assertThat(v.cause())
        .contains("image cannot be pulled: juicedata/mount:nope (" + reason + ": ");
  }

  @Test
  void aCrashLoopWithAMetaurlErrorSaysWrongMetaurl() {
    ContainerStatus looping =
        new ContainerStatusBuilder()
            .withName("jfs-mount")
            .withImage("juicedata/mount:ce")
            .withRestartCount(4)
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
            .withMessage(
                "2026/11/26 juicefs[7] <FATAL>: load setting: dial tcp: lookup redis: "
                    + "no such host")
            .endTerminated()
            .endLastState()
            .build();
    Verdict v = doctor.diagnose(nodeFacts(false, List.of(mountPod(looping)), List.of()));
    assertThat(v.side()).isEqualTo(Side.MOUNT_POD);
    assertThat(v.cause()).contains("wrong metaurl").contains("no such host");

    ContainerStatus oom =
        new ContainerStatusBuilder(looping)
            .editLastState()
            .editTerminated()
            .withExitCode(137)
            .withReason("OOMKilled")
            .withMessage("")
            .endTerminated()
            .endLastState()
            .build();
    Verdict killed = doctor.diagnose(nodeFacts(false, List.of(mountPod(oom)), List.of()));
    assertThat(killed.cause())
        .isEqualTo("the JuiceFS client crashes in a loop: exit code 137 (OOMKilled)");
  }

  @Test
  void aStaleMountInTheAppPodsEventsIsTheNodeSide() {
    ContainerStatus fine = running();
    Verdict v =
        doctor.diagnose(
            nodeFacts(
                false,
                List.of(mountPod(fine)),
                List.of(
                    event(
                        "Pod",
                        "app",
                        "FailedMount",
                        "stat /var/lib/kubelet/pods/u/volumes/x/mount: transport endpoint is not connected"))));
    assertThat(v.side()).isEqualTo(Side.NODE);
    assertThat(v.cause()).startsWith("a stale mount");
  }

  @Test
  void aRunningPodWithAHealthyChainIsHealthy() {
    ContainerStatus fine = running();
    Verdict v = doctor.diagnose(nodeFacts(true, List.of(mountPod(fine)), List.of()));
    assertThat(v.healthy()).isTrue();
    assertThat(v.evidence()).anyMatch(e -> e.startsWith("mount pod kube-system/juicefs-n1-pvc-1"));
  }

  // ---- staged objects --------------------------------------------------------------------

  /** A bound claim of a valid PV, an app pod (running or not) on n1, these Mount Pods. */
  /** An app pod on a bound claim of this PV, its publish secret present, nothing else. */
  static Facts pvFacts(PersistentVolume pv, boolean appRunning) {
    return facts(
        Optional.of(appPod(appRunning)),
        Optional.of(boundPvc()),
        Optional.empty(),
        Optional.of(pv),
        null,
        publishSecret(),
        List.of(),
        List.of());
  }

  static Facts nodeFacts(boolean appRunning, List<Pod> mountPods, List<Event> events) {
    return facts(
        Optional.of(appPod(appRunning)),
        Optional.of(boundPvc()),
        Optional.empty(),
        Optional.of(pv(List.of())),
        null,
        publishSecret(),
        mountPods,
        events);
  }

  /** A pending claim of this StorageClass with this provisioner secret, and no pod yet. */
  static Facts claimFacts(
      Optional<StorageClass> storageClass, Facts.SecretFact secret, List<Event> events) {
    return facts(
        Optional.empty(),
        Optional.of(pendingPvc()),
        storageClass,
        Optional.empty(),
        secret,
        null,
        List.of(),
        events);
  }

  static ContainerStatus running() {
    return new ContainerStatusBuilder()
        .withName("jfs-mount")
        .withReady(true)
        .withRestartCount(0)
        .withNewState()
        .withNewRunning()
        .endRunning()
        .endState()
        .build();
  }

  static Facts facts(
      Optional<Pod> pod,
      Optional<PersistentVolumeClaim> pvc,
      Optional<StorageClass> sc,
      Optional<PersistentVolume> pv,
      Facts.SecretFact provisioner,
      Facts.SecretFact publish,
      List<Pod> mountPods,
      List<Event> events) {
    return new Facts(
        pod.isPresent() ? "pod default/app" : "pvc default/data",
        pod,
        "default/data",
        pvc,
        sc,
        pv,
        Optional.ofNullable(provisioner),
        Optional.ofNullable(publish),
        mountPods,
        new ArrayList<>(events));
  }

  static Pod appPod(boolean running) {
    ContainerStatus status =
        new ContainerStatusBuilder().withName("app").withReady(running).withRestartCount(0).build();
    return new PodBuilder()
        .withNewMetadata()
        .withNamespace("default")
        .withName("app")
        .endMetadata()
        .withNewSpec()
        .withNodeName("n1")
        .addNewVolume()
        .withName("data")
        .withNewPersistentVolumeClaim()
        .withClaimName("data")
        .endPersistentVolumeClaim()
        .endVolume()
        .endSpec()
        .withNewStatus()
        .withPhase(running ? "Running" : "Pending")
        .withContainerStatuses(status)
        .endStatus()
        .build();
  }

  static Pod mountPod(ContainerStatus status) {
    return new PodBuilder()
        .withNewMetadata()
        .withNamespace("kube-system")
        .withName("juicefs-n1-pvc-1-abcdef")
        .endMetadata()
        .withNewSpec()
        .withNodeName("n1")
        .endSpec()
        .withNewStatus()
        .withPhase("Running")
        .withContainerStatuses(status)
        .endStatus()
        .build();
  }

  static PersistentVolumeClaim pendingPvc() {
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withNamespace("default")
        .withName("data")
        .endMetadata()
        .withNewSpec()
        .withStorageClassName("juicefs-sc")
        .endSpec()
        .withNewStatus()
        .withPhase("Pending")
        .endStatus()
        .build();
  }

  static PersistentVolumeClaim boundPvc() {
    return new PersistentVolumeClaimBuilder(pendingPvc())
        .editSpec()
        .withVolumeName("pvc-1")
        .endSpec()
        .editStatus()
        .withPhase("Bound")
        .endStatus()
        .build();
  }

  static StorageClass storageClass(String provisioner, Map<String, String> parameters) {
    return new StorageClassBuilder()
        .withNewMetadata()
        .withName("juicefs-sc")
        .endMetadata()
        .withProvisioner(provisioner)
        .withParameters(parameters)
        .withReclaimPolicy("Delete")
        .build();
  }

  static Map<String, String> provisionerParameters() {
    return Map.of(
        Doctor.PROVISIONER_SECRET_NAME, "jfs", Doctor.PROVISIONER_SECRET_NAMESPACE, "kube-system");
  }

  static PersistentVolume pv(List<String> mountOptions) {
    return new PersistentVolumeBuilder()
        .withNewMetadata()
        .withName("pvc-1")
        .endMetadata()
        .withNewSpec()
        .withMountOptions(mountOptions)
        .withNewCsi()
        .withDriver(DRIVER)
        .withVolumeHandle("pvc-1")
        .withNewNodePublishSecretRef()
        .withName("jfs")
        .withNamespace("kube-system")
        .endNodePublishSecretRef()
        .endCsi()
        .endSpec()
        .build();
  }

  static Facts.SecretFact publishSecret() {
    return new Facts.SecretFact("kube-system/jfs", Optional.of(GOOD_SECRET));
  }

  static Event event(String kind, String name, String reason, String message) {
    return new EventBuilder()
        .withNewMetadata()
        .withName(name + ".1")
        .endMetadata()
        .withNewInvolvedObject()
        .withKind(kind)
        .withName(name)
        .endInvolvedObject()
        .withReason(reason)
        .withMessage(message)
        .withLastTimestamp("2026-11-26T10:00:00Z")
        .build();
  }
}
