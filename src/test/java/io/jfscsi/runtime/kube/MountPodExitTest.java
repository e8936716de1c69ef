package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import org.junit.jupiter.api.Test;

/** What in a Mount Pod's status says that its client died, as kubelet reports it. */
class MountPodExitTest {

  static Pod pod(ContainerStatus status) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("juicefs-n-pv-abcdef")
        .endMetadata()
        .withNewStatus()
        .withPhase("Running")
        .withContainerStatuses(status)
        .endStatus()
        .build();
  }

  static ContainerStatusBuilder jfsMount(int restarts) {
    return new ContainerStatusBuilder()
        .withName(MountPodNames.CONTAINER)
        .withRestartCount(restarts);
  }

  @Test
  void aRunningClientHasNotExited() {
    Pod running =
        pod(
            jfsMount(1)
                .withNewState()
                .withNewRunning()
                .endRunning()
                .endState()
                .withNewLastState()
                .withNewTerminated()
                .withExitCode(137)
                .endTerminated()
                .endLastState()
                .build());
    assertThat(MountPodWatch.exitReason(running, 1)).isEmpty();
  }

  @Test
  void aClientThatKubeletHoldsInCrashLoopBackOffHasExitedBeforeItsRestartCountGrows() {
    Pod backingOff =
        pod(
            jfsMount(1)
                .withNewState()
                .withNewWaiting()
                .withReason("CrashLoopBackOff")
                .endWaiting()
                .endState()
                .withNewLastState()
                .withNewTerminated()
                .withExitCode(137)
                .endTerminated()
                .endLastState()
                .build());
    assertThat(MountPodWatch.exitReason(backingOff, 1))
        .hasValueSatisfying(
            why -> assertThat(why).contains("exited with code 137").contains("CrashLoopBackOff"));
  }

  @Test
  void aContainerStillBeingCreatedHasNotExited() {
    Pod creating =
        pod(
            jfsMount(0)
                .withNewState()
                .withNewWaiting()
                .withReason("ContainerCreating")
                .endWaiting()
                .endState()
                .build());
    assertThat(MountPodWatch.exitReason(creating, 0)).isEmpty();
  }

  @Test
  void aRestartSinceTheWatchBeganIsAnExit() {
    Pod restarted =
        pod(jfsMount(2).withNewState().withNewRunning().endRunning().endState().build());
    assertThat(MountPodWatch.exitReason(restarted, 1))
        .hasValueSatisfying(why -> assertThat(why).contains("restart count 2"));
  }
}
