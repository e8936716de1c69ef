package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.jfscsi.client.StartProgress;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What a publish says of a Mount Pod that is not ready, from the status kubelet and the scheduler
 * write (each case as kubelet 1.20 reports it), and which of those states do not fix themselves.
 */
class MountPodProgressTest {
  static final String PASSWORD = "s3cr3t-pw";
  static final Redactor REDACTOR =
      Redactor.forSettings(
          SettingsParser.parse(
              new VolumeSource(
                  "pv-a",
                  Map.of("name", "fs1", "metaurl", "redis://:" + PASSWORD + "@10.0.0.9:6379/1"),
                  Map.of(),
                  List.of())));
  static final Path MOUNT = Path.of("/var/lib/juicefs/volume/pv-a-abcdef");

  static PodBuilder pending() {
    return new PodBuilder()
        .withNewMetadata()
        .withName("juicefs-n-pv-a-abcdef")
        .endMetadata()
        .withNewStatus()
        .withPhase("Pending")
        .endStatus();
  }

  static Pod waiting(String reason, String message) {
    return pending()
        .editStatus()
        .withContainerStatuses(
            new ContainerStatusBuilder()
                .withName(MountPodNames.CONTAINER)
                .withRestartCount(0)
                .withReady(false)
                .withNewState()
                .withNewWaiting()
                .withReason(reason)
                .withMessage(message)
                .endWaiting()
                .endState()
                .build())
        .endStatus()
        .build();
  }

  static StartProgress of(Pod pod) {
    return MountPodProgress.of(pod, MOUNT, REDACTOR);
  }

  @Test
  void aContainerBeingCreatedIsNotStuck() {
    StartProgress p = of(waiting("ContainerCreating", null));
    assertThat(p.description())
        .isEqualTo(
            "Mount Pod juicefs-n-pv-a-abcdef is Pending; "
                + "container jfs-mount is waiting: ContainerCreating");
    assertThat(p.stuck()).isFalse();
  }

  @Test
  void imagePullErrorsAreStuckAndSayWhichImage() {
    for (String reason : List.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName")) {
      StartProgress p = of(waiting(reason, "Back-off pulling image \"juicedata/mount:nope\""));
      assertThat(p.stuck()).as(reason).isTrue();
      assertThat(p.description())
          .contains(
              "container jfs-mount is waiting: "
                  + reason
                  + ": Back-off pulling image \"juicedata/mount:nope\"");
    }
  }

  @Test
  void aMissingSecretIsStuck() {
    StartProgress p =
        of(waiting("CreateContainerConfigError", "secret \"jfs-csi-n-pv-a-secret\" not found"));
    assertThat(p.stuck()).isTrue();
    assertThat(p.description())
        .endsWith("CreateContainerConfigError: secret " + "\"jfs-csi-n-pv-a-secret\" not found");
  }

  @Test
  void anUnschedulablePodIsStuckAndSaysWhyFromItsCondition() {
    Pod pod =
        pending()
            .editStatus()
            .withConditions(
                new PodConditionBuilder()
                    .withType("PodScheduled")
                    .withStatus("False")
                    .withReason("Unschedulable")
                    .withMessage("0/1 nodes are available: 1 Insufficient cpu.")
                    .build())
            .endStatus()
            .build();
    StartProgress p = of(pod);
    assertThat(p.stuck()).isTrue();
    assertThat(p.description())
        .isEqualTo(
            "Mount Pod juicefs-n-pv-a-abcdef is Pending; not "
                + "scheduled: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.");
  }

  @Test
  void aCrashLoopIsStuckAndEndsWithTheLastTerminationMessageOnOneLineSecretsMasked() {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      lines.add("2026/12/07 juicefs[7] <INFO>: line " + i);
    }
    lines.add("<FATAL>: meta redis://:" + PASSWORD + "@10.0.0.9:6379/1: connection refused");
    Pod pod =
        new PodBuilder(
                waiting(
                    "CrashLoopBackOff", "back-off 20s restarting failed " + "container=jfs-mount"))
            .editStatus()
            .withPhase("Running")
            .editFirstContainerStatus()
            .withRestartCount(2)
            .withNewLastState()
            .withNewTerminated()
            .withExitCode(1)
            .withReason("Error")
            .withMessage(String.join("\n", lines))
            .endTerminated()
            .endLastState()
            .endContainerStatus()
            .endStatus()
            .build();
    StartProgress p = of(pod);
    assertThat(p.stuck()).isTrue();
    assertThat(p.description())
        .contains("container jfs-mount is waiting: CrashLoopBackOff: back-off 20s")
        .contains("it restarted 2 times, its last run ended with exit code 1 (Error): ...")
        .contains("line 59 | <FATAL>: meta ******: connection refused")
        .doesNotContain(PASSWORD)
        .doesNotContain("\n")
        .doesNotContain("line 0 |");
  }

  @Test
  void aReadyPodWhoseMountDoesNotAnswerSaysSo() {
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("juicefs-n-pv-a-abcdef")
            .endMetadata()
            .withNewStatus()
            .withPhase("Running")
            .withConditions(new PodConditionBuilder().withType("Ready").withStatus("True").build())
            .withContainerStatuses(
                new ContainerStatusBuilder()
                    .withName(MountPodNames.CONTAINER)
                    .withReady(true)
                    .withRestartCount(0)
                    .withNewState()
                    .withNewRunning()
                    .endRunning()
                    .endState()
                    .build())
            .endStatus()
            .build();
    StartProgress p = of(pod);
    assertThat(p.stuck()).isFalse();
    assertThat(p.description())
        .isEqualTo(
            "Mount Pod juicefs-n-pv-a-abcdef is Running; it is "
                + "Ready, but its mount at "
                + MOUNT
                + " does not answer on this host yet");
  }

  @Test
  void aPodRejectedByTheNodeSaysWhy() {
    Pod pod =
        pending()
            .editStatus()
            .withPhase("Failed")
            .withReason("OutOfcpu")
            .withMessage(
                "Pod Node didn't have enough resource: cpu, requested: 1000, used: 1800, "
                    + "capacity: 2000")
            .endStatus()
            .build();
    assertThat(of(pod).description())
        .isEqualTo(
            "Mount Pod juicefs-n-pv-a-abcdef is Failed "
                + "(OutOfcpu: Pod Node didn't have enough resource: cpu, requested: 1000, used: 1800, "
                + "capacity: 2000)");
  }
}
