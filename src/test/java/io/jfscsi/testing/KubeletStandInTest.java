package io.jfscsi.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kubelet stand-in against the real API server: pods run, restart, terminate; Jobs complete.
 */
class KubeletStandInTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static KubeCluster cluster;
  private static KubernetesClient k;
  private static KubeletStandIn kubelet;
  private static String node;
  private static String ns;

  @BeforeAll
  static void up() {
    cluster = KubeCluster.shared();
    k = cluster.client();
    node = "standin-" + ProcessHandle.current().pid();
    kubelet = new KubeletStandIn(cluster, node).start();
    ns = cluster.newNamespace("standin");
  }

  @AfterAll
  static void down() {
    if (kubelet != null) {
      kubelet.close();
    }
    if (cluster != null) {
      k.namespaces().withName(ns).delete();
      cluster.deleteNode(node);
    }
  }

  private static Pod pod(String name, String script) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withNodeName(node)
        .withTerminationGracePeriodSeconds(5L)
        .addNewContainer()
        .withName("main")
        .withImage("busybox")
        .withCommand("sh", "-c", script)
        .endContainer()
        .endSpec()
        .build();
  }

  private static Pod get(String name) {
    return k.pods().inNamespace(ns).withName(name).get();
  }

  private static ContainerStatus main(Pod p) {
    return p.getStatus().getContainerStatuses().getFirst();
  }

  private static boolean ready(Pod p) {
    return p.getStatus().getConditions().stream()
        .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  @Test
  void a_pod_runs_its_command_with_its_environment_and_becomes_ready() {
    k.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("creds")
                .endMetadata()
                .addToStringData("metaurl", "local:///nowhere")
                .build())
        .create();
    Pod pod =
        new PodBuilder(
                pod("env", "echo \"meta=$META name=$POD greeting=$GREETING\"; exec sleep 300"))
            .editSpec()
            .editFirstContainer()
            .addNewEnv()
            .withName("META")
            .withNewValueFrom()
            .withNewSecretKeyRef("metaurl", "creds", false)
            .endValueFrom()
            .endEnv()
            .addNewEnv()
            .withName("POD")
            .withNewValueFrom()
            .withNewFieldRef()
            .withFieldPath("metadata.name")
            .endFieldRef()
            .endValueFrom()
            .endEnv()
            .addNewEnv()
            .withName("GREETING")
            .withValue("hello $(POD)")
            .endEnv()
            .endContainer()
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(pod).create();

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Pod p = get("env");
              assertThat(p.getStatus().getPhase()).isEqualTo("Running");
              assertThat(ready(p)).isTrue();
              assertThat(main(p).getReady()).isTrue();
              assertThat(main(p).getState().getRunning()).isNotNull();
            });
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(kubelet.logs(ns, "env", "main"))
                    .contains("meta=local:///nowhere name=env greeting=hello env"));
    assertThat(get("env").getStatus().getPodIP()).isEqualTo("127.0.0.1");
    // pods/log goes through the API server to the stand-in's kubelet port.
    assertThat(k.pods().inNamespace(ns).withName("env").getLog()).contains("greeting=hello env");
    assertThat(
            k.pods().inNamespace(ns).withName("env").inContainer("main").tailingLines(1).getLog())
        .isEqualTo("meta=local:///nowhere name=env greeting=hello env\n");
  }

  @Test
  void init_containers_run_first_in_order(@TempDir Path tmp) {
    Path file = tmp.resolve("order");
    Pod pod =
        new PodBuilder(pod("init", "cat " + file + "; exec sleep 300"))
            .editSpec()
            .addNewInitContainer()
            .withName("one")
            .withImage("busybox")
            .withCommand("sh", "-c", "echo one >> " + file)
            .endInitContainer()
            .addNewInitContainer()
            .withName("two")
            .withImage("busybox")
            .withCommand("sh", "-c", "echo two >> " + file)
            .endInitContainer()
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(pod).create();
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Pod p = get("init");
              assertThat(ready(p)).isTrue();
              assertThat(p.getStatus().getInitContainerStatuses())
                  .allSatisfy(
                      s -> {
                        assertThat(s.getState().getTerminated().getExitCode()).isZero();
                        assertThat(s.getState().getTerminated().getReason()).isEqualTo("Completed");
                      });
            });
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(() -> assertThat(kubelet.logs(ns, "init", "main")).isEqualTo("one\ntwo\n"));
  }

  @Test
  void a_crashed_container_restarts_and_counts_it() {
    k.pods().inNamespace(ns).resource(pod("crash", "echo started; exec sleep 300")).create();
    await().atMost(WAIT).ignoreExceptions().until(() -> ready(get("crash")));
    long pid = kubelet.pid(ns, "crash", "main").orElseThrow();

    kubelet.crash(ns, "crash");

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Pod p = get("crash");
              assertThat(main(p).getRestartCount()).isEqualTo(1);
              assertThat(main(p).getState().getRunning()).isNotNull();
              assertThat(main(p).getLastState().getTerminated().getExitCode()).isEqualTo(137);
              assertThat(p.getStatus().getPhase()).isEqualTo("Running");
              assertThat(ready(p)).isTrue();
            });
    assertThat(kubelet.pid(ns, "crash", "main")).isPresent().get().isNotEqualTo(pid);
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(k.pods().inNamespace(ns).withName("crash").terminated().getLog())
                  .isEqualTo("started\n");
              assertThat(k.pods().inNamespace(ns).withName("crash").getLog())
                  .isEqualTo("started\n");
            });
    assertThat(kubelet.logs(ns, "crash", "main")).isEqualTo("started\nstarted\n");
    assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
  }

  @Test
  void fallback_to_logs_on_error_puts_the_tail_of_the_run_in_the_termination_message() {
    // 100 numbered lines of ~40 bytes (4 KiB): kubelet keeps the last 80 lines, at most 2 KiB.
    String script =
        "i=0; while [ $i -lt 100 ]; do "
            + "printf 'line %03d ................................\\n' $i; i=$((i+1)); done; "
            + "echo 'last words'; exit 3";
    Pod pod =
        new PodBuilder(pod("words", script))
            .editSpec()
            .withRestartPolicy("Always")
            .editFirstContainer()
            .withTerminationMessagePolicy("FallbackToLogsOnError")
            .endContainer()
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(pod).create();
    Pod never =
        new PodBuilder(pod("words-never", "echo first; echo 'the end'; exit 1"))
            .editSpec()
            .withRestartPolicy("Never")
            .editFirstContainer()
            .withTerminationMessagePolicy("FallbackToLogsOnError")
            .endContainer()
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(never).create();
    Pod plain =
        new PodBuilder(pod("words-file", "echo nothing kept; exit 1"))
            .editSpec()
            .withRestartPolicy("Never")
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(plain).create();
    try {
      await()
          .atMost(WAIT)
          .untilAsserted(
              () -> {
                var last = main(get("words")).getLastState().getTerminated();
                assertThat(last).isNotNull();
                assertThat(last.getExitCode()).isEqualTo(3);
                String message = last.getMessage();
                assertThat(message).endsWith("last words\n").doesNotContain("line 000");
                assertThat(message.getBytes(StandardCharsets.UTF_8).length)
                    .isLessThanOrEqualTo(2048);
              });
      await()
          .atMost(WAIT)
          .untilAsserted(
              () -> {
                Pod p = get("words-never");
                assertThat(p.getStatus().getPhase()).isEqualTo("Failed");
                assertThat(main(p).getState().getTerminated().getMessage())
                    .isEqualTo("first\nthe end\n");
                Pod f = get("words-file");
                assertThat(f.getStatus().getPhase()).isEqualTo("Failed");
                assertThat(main(f).getState().getTerminated().getMessage()).isNull();
              });
      // Only this run's output: a restart does not repeat the earlier runs' lines.
      await().atMost(WAIT).until(() -> main(get("words")).getRestartCount() >= 2);
      assertThat(main(get("words")).getLastState().getTerminated().getMessage())
          .containsOnlyOnce("last words");
    } finally {
      for (String name : List.of("words", "words-never", "words-file")) {
        k.pods().inNamespace(ns).withName(name).withGracePeriod(0).delete();
      }
    }
  }

  @Test
  void the_image_binaries_of_a_go_mount_pod_command_are_the_shims() {
    Pod pod =
        pod(
            "gobin",
            "readlink /bin/mount.juicefs || exit 7; "
                + "/usr/local/bin/juicefs version && exec sleep 300");
    k.pods().inNamespace(ns).resource(pod).create();
    try {
      await()
          .atMost(WAIT)
          .untilAsserted(
              () -> {
                assertThat(ready(get("gobin"))).isTrue();
                assertThat(kubelet.logs(ns, "gobin", "main")).contains("kubelet-standin");
              });
    } finally {
      k.pods().inNamespace(ns).withName("gobin").withGracePeriod(0).delete();
    }
  }

  @Test
  void restart_policy_never_ends_failed_and_on_failure_restarts_until_success() throws IOException {
    Pod never =
        new PodBuilder(pod("never", "exit 3"))
            .editSpec()
            .withRestartPolicy("Never")
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(never).create();
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Pod p = get("never");
              assertThat(p.getStatus().getPhase()).isEqualTo("Failed");
              assertThat(main(p).getState().getTerminated().getExitCode()).isEqualTo(3);
              assertThat(main(p).getRestartCount()).isZero();
            });

    // Fails twice, then succeeds: the count lives in a file.
    Path counter = Files.createTempFile("standin-count", "");
    String script =
        "n=$(cat "
            + counter
            + "); echo x >> "
            + counter
            + "; [ -n \"$n\" ] && [ \"$(wc -l < "
            + counter
            + ")\" -ge 3 ] && exit 0; exit 1";
    Pod onFailure =
        new PodBuilder(pod("onfailure", script))
            .editSpec()
            .withRestartPolicy("OnFailure")
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(onFailure).create();
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Pod p = get("onfailure");
              assertThat(p.getStatus().getPhase()).isEqualTo("Succeeded");
              assertThat(main(p).getRestartCount()).isEqualTo(2);
            });
    Files.deleteIfExists(counter);
  }

  @Test
  void deletion_terminates_the_container_and_a_finalizer_keeps_the_object() {
    Pod pod =
        new PodBuilder(
                pod("final", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"))
            .editMetadata()
            .addToFinalizers("jfs-csi.io/test-keep")
            .endMetadata()
            .build();
    k.pods().inNamespace(ns).resource(pod).create();
    await().atMost(WAIT).ignoreExceptions().until(() -> ready(get("final")));
    long pid = kubelet.pid(ns, "final", "main").orElseThrow();

    k.pods().inNamespace(ns).withName("final").delete();

    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
              Pod p = get("final");
              assertThat(p).isNotNull();
              assertThat(p.getMetadata().getDeletionTimestamp()).isNotNull();
              assertThat(main(p).getState().getTerminated()).isNotNull();
              assertThat(ready(p)).isFalse();
              // the final delete (grace 0) was sent: only the finalizer holds it
              assertThat(p.getMetadata().getDeletionGracePeriodSeconds()).isZero();
            });
    assertThat(kubelet.logs(ns, "final", "main")).contains("got TERM");

    Pod held = get("final");
    held.getMetadata().setFinalizers(List.of());
    k.pods().inNamespace(ns).resource(held).update();
    await().atMost(WAIT).ignoreExceptions().until(() -> get("final") == null);
  }

  @Test
  void jobs_on_the_node_complete() {
    Job pinned =
        new JobBuilder()
            .withNewMetadata()
            .withName("pinned")
            .endMetadata()
            .withNewSpec()
            .withBackoffLimit(0)
            .withNewTemplate()
            .withNewSpec()
            .withNodeName(node)
            .withRestartPolicy("Never")
            .addNewContainer()
            .withName("work")
            .withImage("busybox")
            .withCommand("sh", "-c", "echo done")
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    // No scheduler: a pod pinned by a hostname nodeSelector is bound by the stand-in.
    Job selected =
        new JobBuilder(pinned)
            .editMetadata()
            .withName("selected")
            .endMetadata()
            .editSpec()
            .editTemplate()
            .editSpec()
            .withNodeName(null)
            .withNodeSelector(Map.of("kubernetes.io/hostname", node))
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    for (Job job : List.of(pinned, selected)) {
      k.batch().v1().jobs().inNamespace(ns).resource(job).create();
    }
    for (String name : List.of("pinned", "selected")) {
      await()
          .atMost(WAIT)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                Job job = k.batch().v1().jobs().inNamespace(ns).withName(name).get();
                assertThat(job.getStatus().getSucceeded()).isEqualTo(1);
                assertThat(job.getStatus().getConditions())
                    .anySatisfy(
                        c -> {
                          assertThat(c.getType()).isEqualTo("Complete");
                          assertThat(c.getStatus()).isEqualTo("True");
                        });
              });
    }
  }

  @Test
  void a_mount_pod_running_the_juicefs_shim_serves_a_local_directory_through_fuse(@TempDir Path tmp)
      throws Exception {
    HostRequirements.requireFuse();
    Path volume = Files.createDirectories(tmp.resolve("volume"));
    Files.writeString(volume.resolve("hello.txt"), "from the volume");
    Path mounts = tmp.resolve("mnt");
    Path mountPoint = mounts.resolve("pvc-1");
    String script =
        "juicefs format --storage=file local://$(VOLUME) pvc-1 && exec juicefs mount --cache-size=0 "
            + "local://$(VOLUME) "
            + mountPoint;
    Pod pod =
        new PodBuilder(pod("mount", script))
            .editSpec()
            .withRestartPolicy("OnFailure")
            .editFirstContainer()
            .withNewSecurityContext()
            .withPrivileged(true)
            .endSecurityContext()
            .addNewEnv()
            .withName("VOLUME")
            .withValue(volume.toString())
            .endEnv()
            .addNewVolumeMount()
            .withName("jfs-dir")
            .withMountPath(mounts.toString())
            .withMountPropagation("Bidirectional")
            .endVolumeMount()
            .addNewVolumeMount()
            .withName("volume")
            .withMountPath(volume.toString())
            .endVolumeMount()
            .endContainer()
            .addNewVolume()
            .withName("jfs-dir")
            .withNewHostPath()
            .withPath(mounts.toString())
            .withType("DirectoryOrCreate")
            .endHostPath()
            .endVolume()
            .addNewVolume()
            .withName("volume")
            .withNewHostPath()
            .withPath(volume.toString())
            .withType("Directory")
            .endHostPath()
            .endVolume()
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(pod).create();
    try {
      await()
          .atMost(WAIT)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(ready(get("mount"))).isTrue();
                assertThat(fuseMountAt(mountPoint)).isPresent();
                assertThat(Files.readString(mountPoint.resolve("hello.txt")))
                    .isEqualTo("from the volume");
              });
      Files.writeString(mountPoint.resolve("written.txt"), "through fuse");
      assertThat(volume.resolve("written.txt")).hasContent("through fuse");

      // A crash leaves a stale mount; the restarted client clears it and serves again.
      kubelet.crash(ns, "mount");
      await()
          .atMost(WAIT)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                Pod p = get("mount");
                assertThat(main(p).getRestartCount()).isEqualTo(1);
                assertThat(Files.readString(mountPoint.resolve("hello.txt")))
                    .isEqualTo("from the volume");
              });

      // Deleting the pod stops the client (SIGTERM): bindfs unmounts.
      k.pods().inNamespace(ns).withName("mount").delete();
      await()
          .atMost(WAIT)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(get("mount")).isNull();
                assertThat(fuseMountAt(mountPoint)).isEmpty();
              });
    } finally {
      k.pods().inNamespace(ns).withName("mount").withGracePeriod(0).delete();
    }
  }

  @Test
  void a_new_stand_in_for_the_same_node_restarts_running_pods_and_leaves_finished_ones() {
    String rebooted = node + "-reboot";
    Pod running =
        new PodBuilder(pod("reboot-running", "exec sleep 300"))
            .editSpec()
            .withNodeName(rebooted)
            .endSpec()
            .build();
    Pod finished =
        new PodBuilder(pod("reboot-finished", "exit 0"))
            .editSpec()
            .withNodeName(rebooted)
            .withRestartPolicy("Never")
            .endSpec()
            .build();
    try {
      long pid;
      try (KubeletStandIn first = new KubeletStandIn(cluster, rebooted).start()) {
        k.pods().inNamespace(ns).resource(running).create();
        k.pods().inNamespace(ns).resource(finished).create();
        await()
            .atMost(WAIT)
            .ignoreExceptions()
            .until(
                () ->
                    ready(get("reboot-running"))
                        && "Succeeded".equals(get("reboot-finished").getStatus().getPhase()));
        pid = first.pid(ns, "reboot-running", "main").orElseThrow();
      }
      // The node went down with its processes.
      assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
      try (KubeletStandIn second = new KubeletStandIn(cluster, rebooted).start()) {
        await()
            .atMost(WAIT)
            .ignoreExceptions()
            .untilAsserted(
                () -> {
                  Pod p = get("reboot-running");
                  assertThat(main(p).getRestartCount()).isEqualTo(1);
                  assertThat(ready(p)).isTrue();
                });
        assertThat(second.pid(ns, "reboot-finished", "main")).isEmpty();
        assertThat(get("reboot-finished").getStatus().getPhase()).isEqualTo("Succeeded");
        for (String name : List.of("reboot-running", "reboot-finished")) {
          k.pods().inNamespace(ns).withName(name).delete();
        }
        await()
            .atMost(WAIT)
            .ignoreExceptions()
            .until(() -> get("reboot-running") == null && get("reboot-finished") == null);
      }
    } finally {
      cluster.deleteNode(rebooted);
    }
  }

  @Test
  void a_hostpath_mounted_elsewhere_is_refused_with_a_clear_reason(@TempDir Path tmp) {
    Pod pod =
        new PodBuilder(pod("elsewhere", "exec sleep 300"))
            .editSpec()
            .editFirstContainer()
            .addNewVolumeMount()
            .withName("d")
            .withMountPath("/jfs")
            .endVolumeMount()
            .endContainer()
            .addNewVolume()
            .withName("d")
            .withNewHostPath()
            .withPath(tmp.toString())
            .endHostPath()
            .endVolume()
            .endSpec()
            .build();
    k.pods().inNamespace(ns).resource(pod).create();
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              var waiting = main(get("elsewhere")).getState().getWaiting();
              assertThat(waiting.getReason()).isEqualTo("CreateContainerConfigError");
              assertThat(waiting.getMessage()).contains("must be mounted at the same path");
            });
    k.pods().inNamespace(ns).withName("elsewhere").withGracePeriod(0).delete();
  }

  /** The FUSE mount on top at {@code path}, from this process's mount table. */
  static Optional<String> fuseMountAt(Path path) throws IOException {
    try (Stream<String> lines = Files.lines(Path.of("/proc/self/mountinfo"))) {
      return lines
          .map(l -> l.split(" "))
          .filter(f -> f[4].equals(path.toString()))
          .map(f -> f[indexOfFsType(f)])
          .filter(t -> t.startsWith("fuse"))
          .reduce((a, b) -> b);
    }
  }

  private static int indexOfFsType(String[] fields) {
    for (int i = 6; i < fields.length; i++) {
      if (fields[i].equals("-")) {
        return i + 1;
      }
    }
    return 0;
  }
}
