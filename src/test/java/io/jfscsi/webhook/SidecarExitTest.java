package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * When the clients the webhook injected into a pod are stopped: pods as the webhook makes them
 * ({@link SidecarInjection#decide}, two claims so two clients), with the statuses kubelet reports.
 */
class SidecarExitTest {

  /** A pod with containers "app" and "report" and two JuiceFS claims, injected. */
  static Pod injected(String restartPolicy) {
    return injected(restartPolicy, SidecarInjection.Mode.PLAIN);
  }

  static Pod injected(String restartPolicy, SidecarInjection.Mode mode) {
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("job-abcde")
            .withNamespace("apps")
            .endMetadata()
            .withNewSpec()
            .withRestartPolicy(restartPolicy)
            .addNewContainer()
            .withName("app")
            .withImage("busybox")
            .endContainer()
            .addNewContainer()
            .withName("report")
            .withImage("busybox")
            .endContainer()
            .addNewVolume()
            .withName("data")
            .withNewPersistentVolumeClaim("a", false)
            .endVolume()
            .addNewVolume()
            .withName("more")
            .withNewPersistentVolumeClaim("b", false)
            .endVolume()
            .endSpec()
            .build();
    SidecarClaim a = SidecarInjectionTest.claim("a", List.of(), Map.of());
    SidecarClaim b = SidecarInjectionTest.claim("b", List.of(), Map.of());
    b =
        new SidecarClaim(
            b.namespace(), b.claimName(), b.claimUid(), List.of("more"), b.source(), false);
    var outcome =
        SidecarInjection.decide(
            pod,
            List.of(a, b),
            SidecarInjectionTest.CONFIG,
            SidecarInjectionTest.suffixes("x", "y"),
            mode);
    return ((SidecarInjection.Outcome.Injected) outcome).pod();
  }

  static ContainerStatus running(String name) {
    return new ContainerStatusBuilder()
        .withName(name)
        .withNewState()
        .withNewRunning()
        .endRunning()
        .endState()
        .build();
  }

  static ContainerStatus exited(String name, int code) {
    return new ContainerStatusBuilder()
        .withName(name)
        .withNewState()
        .withNewTerminated()
        .withExitCode(code)
        .endTerminated()
        .endState()
        .build();
  }

  static Pod with(Pod pod, String phase, ContainerStatus... statuses) {
    return new PodBuilder(pod)
        .withNewStatus()
        .withPhase(phase)
        .withContainerStatuses(statuses)
        .endStatus()
        .build();
  }

  static List<String> stopped(Pod pod) {
    return SidecarExit.clientsToStop(pod).stream().map(SidecarExit.Stop::container).toList();
  }

  @Test
  void aJobsPodWhoseAppsAllExitedHasEachRunningClientStoppedWithItsPreStopCommand() {
    Pod pod = injected("Never");
    assertThat(pod.getSpec().getContainers())
        .extracting(c -> c.getName())
        .containsExactly("jfs-mount", "jfs-mount-1", "app", "report");
    Pod done =
        with(
            pod,
            "Running",
            running("jfs-mount"),
            running("jfs-mount-1"),
            exited("app", 0),
            exited("report", 3));
    List<SidecarExit.Stop> stops = SidecarExit.clientsToStop(done);
    assertThat(stops)
        .extracting(SidecarExit.Stop::container)
        .containsExactly("jfs-mount", "jfs-mount-1");
    assertThat(stops.getFirst().command())
        .isEqualTo(
            pod.getSpec()
                .getContainers()
                .getFirst()
                .getLifecycle()
                .getPreStop()
                .getExec()
                .getCommand());
    assertThat(String.join(" ", stops.getFirst().command()))
        .contains("umount /var/lib/juicefs/volume/pvc-a-x ")
        .contains("rmdir");
  }

  @Test
  void nothingIsStoppedWhileAnyAppContainerRunsOrHasNoStatusYet() {
    Pod pod = injected("Never");
    assertThat(
            stopped(
                with(
                    pod,
                    "Running",
                    running("jfs-mount"),
                    running("jfs-mount-1"),
                    exited("app", 0),
                    running("report"))))
        .isEmpty();
    assertThat(
            stopped(
                with(
                    pod,
                    "Running",
                    running("jfs-mount"),
                    running("jfs-mount-1"),
                    exited("app", 0))))
        .isEmpty();
  }

  @Test
  void aServicesPodKeepsItsClients() {
    for (String policy : new String[] {"Always", null}) {
      Pod pod = injected(policy);
      assertThat(
              stopped(
                  with(
                      pod,
                      "Running",
                      running("jfs-mount"),
                      running("jfs-mount-1"),
                      exited("app", 0),
                      exited("report", 0))))
          .as("restartPolicy " + policy)
          .isEmpty();
    }
  }

  @Test
  void underOnFailureAnAppThatFailedIsRunAgainSoItKeepsItsClients() {
    Pod pod = injected("OnFailure");
    assertThat(
            stopped(
                with(
                    pod,
                    "Running",
                    running("jfs-mount"),
                    running("jfs-mount-1"),
                    exited("app", 0),
                    exited("report", 1))))
        .isEmpty();
    assertThat(
            stopped(
                with(
                    pod,
                    "Running",
                    running("jfs-mount"),
                    running("jfs-mount-1"),
                    exited("app", 0),
                    exited("report", 0))))
        .containsExactly("jfs-mount", "jfs-mount-1");
  }

  @Test
  void onlyClientsStillRunningAreStoppedAndOnlyWhileThePodRuns() {
    Pod pod = injected("Never");
    assertThat(
            stopped(
                with(
                    pod,
                    "Running",
                    exited("jfs-mount", 0),
                    running("jfs-mount-1"),
                    exited("app", 0),
                    exited("report", 0))))
        .containsExactly("jfs-mount-1");
    assertThat(
            stopped(
                with(
                    pod,
                    "Pending",
                    running("jfs-mount"),
                    running("jfs-mount-1"),
                    exited("app", 0),
                    exited("report", 0))))
        .isEmpty();
    assertThat(
            stopped(
                with(
                    pod,
                    "Succeeded",
                    exited("jfs-mount", 0),
                    exited("jfs-mount-1", 0),
                    exited("app", 0),
                    exited("report", 0))))
        .isEmpty();
  }

  @Test
  void podsTheWebhookDidNotInjectOrThatOptOutAreLeftAlone() {
    Pod pod = injected("Never");
    Pod optedOut =
        new PodBuilder(pod)
            .editMetadata()
            .addToLabels(SidecarInjection.DISABLE_LABEL, "true")
            .endMetadata()
            .build();
    ContainerStatus[] allDone = {
      running("jfs-mount"), running("jfs-mount-1"), exited("app", 0), exited("report", 0)
    };
    assertThat(stopped(with(optedOut, "Running", allDone))).isEmpty();
    Pod unlabelled = new PodBuilder(pod).editMetadata().withLabels(Map.of()).endMetadata().build();
    assertThat(stopped(with(unlabelled, "Running", allDone))).isEmpty();
  }

  @Test
  void aContainerNamedLikeAClientWithoutTheWebhooksPreStopIsAnApp() {
    Pod pod = injected("Never");
    List<io.fabric8.kubernetes.api.model.Container> containers =
        new ArrayList<>(pod.getSpec().getContainers());
    containers.set(
        3,
        new io.fabric8.kubernetes.api.model.ContainerBuilder(containers.get(3))
            .withName("jfs-mount-7")
            .build());
    Pod renamed = new PodBuilder(pod).editSpec().withContainers(containers).endSpec().build();
    assertThat(
            stopped(
                with(
                    renamed,
                    "Running",
                    running("jfs-mount"),
                    running("jfs-mount-1"),
                    exited("app", 0),
                    running("jfs-mount-7"))))
        .isEmpty();
    assertThat(
            stopped(
                with(
                    renamed,
                    "Running",
                    running("jfs-mount"),
                    running("jfs-mount-1"),
                    exited("app", 0),
                    exited("jfs-mount-7", 0))))
        .containsExactly("jfs-mount", "jfs-mount-1");
  }

  @Test
  void nativeSidecarsAreLeftToKubelet() {
    Pod pod = injected("Never", new SidecarInjection.Mode(SidecarVariant.HOST, true));
    assertThat(pod.getSpec().getInitContainers())
        .extracting(c -> c.getName())
        .containsExactly("jfs-mount", "jfs-mount-1");
    assertThat(stopped(with(pod, "Running", exited("app", 0), exited("report", 0)))).isEmpty();
  }

  @Test
  void aVciClientNamedForItsClaimIsStoppedToo() {
    Pod pod = injected("OnFailure", new SidecarInjection.Mode(SidecarVariant.VCI, false));
    assertThat(pod.getSpec().getContainers())
        .extracting(c -> c.getName())
        .containsExactly("jfs-mount-a", "jfs-mount-b", "app", "report");
    assertThat(
            stopped(
                with(
                    pod,
                    "Running",
                    running("jfs-mount-a"),
                    running("jfs-mount-b"),
                    exited("app", 0),
                    exited("report", 0))))
        .containsExactly("jfs-mount-a", "jfs-mount-b");
  }
}
