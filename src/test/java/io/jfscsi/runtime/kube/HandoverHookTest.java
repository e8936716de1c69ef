package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Lifecycle;
import io.fabric8.kubernetes.api.model.LifecycleBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.client.ClientKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Mount Pod's handover hook ({@link FusePassing}): the preStop command as the pod gets it, run
 * by {@code sh} on this host against a real process that stands for the serving JuiceFS client (it
 * saves its state and exits 1 on SIGHUP, as juicefs's signal handler does). The hook's marker lives
 * in /tmp, which is the client's directory inside a Mount Pod; each test uses a pod name of its
 * own.
 */
class HandoverHookTest {
  static final ClientKey KEY = new ClientKey("pvc-1", "0123456789abcdef0123456789abcdef");

  @TempDir Path dir;
  final String podName = "juicefs-n-pvc-1-" + UUID.randomUUID().toString().substring(0, 8);
  final Path marker = Path.of("/tmp", FusePassing.handoverMarker(podName));
  Process client;

  @AfterEach
  void cleanUp() throws Exception {
    Files.deleteIfExists(marker);
    if (client != null && client.isAlive()) {
      client.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void withTheMarkerTheClientIsSignalledAndTheHookEndsOnlyOnceItHasExited() throws Exception {
    Path state = dir.resolve("state1.json");
    client = standInClient(state);
    Files.writeString(marker, Long.toString(client.pid()));

    Process hook = run(preStop(built(null)));

    assertThat(hook.waitFor(10, TimeUnit.SECONDS)).as("the hook ends").isTrue();
    assertThat(client.isAlive()).as("the hook ends after the client").isFalse();
    assertThat(client.exitValue()).as("the client's exit on SIGHUP").isEqualTo(1);
    assertThat(Files.readString(state)).isEqualTo("saved\n");
  }

  @Test
  void withoutTheMarkerAnOrdinaryDeletionIsLeftToKubelet() throws Exception {
    client = standInClient(dir.resolve("state1.json"));

    Process hook = run(preStop(built(null)));

    assertThat(hook.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(hook.exitValue()).isZero();
    assertThat(client.isAlive()).as("no signal without an upgrade").isTrue();
    assertThat(dir.resolve("state1.json")).doesNotExist();
  }

  @Test
  void aMarkerNamingAProcessThatIsGoneEndsTheHookAtOnce() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    Files.writeString(marker, Long.toString(gone.pid()));

    Process hook = run(preStop(built(null)));

    assertThat(hook.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(hook.exitValue()).isZero();
  }

  @Test
  void aPatchsCommandRunsFirstAndItsLifecycleIsNotChanged() throws Exception {
    Path ran = dir.resolve("patch-ran");
    Lifecycle patch =
        new LifecycleBuilder()
            .withNewPreStop()
            .withNewExec()
            .withCommand("sh", "-c", "echo patch > " + ran)
            .endExec()
            .endPreStop()
            .build();
    Lifecycle before = new LifecycleBuilder(patch).build();
    Path state = dir.resolve("state1.json");
    client = standInClient(state);
    Files.writeString(marker, Long.toString(client.pid()));
    Pod pod = built(patch);

    Process hook = run(preStop(pod));

    assertThat(hook.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(Files.readString(ran)).isEqualTo("patch\n");
    assertThat(client.isAlive()).isFalse();
    assertThat(FusePassing.handsOver(pod)).isTrue();
    assertThat(patch).as("the patch is shared by every pod it patches").isEqualTo(before);
  }

  @Test
  void aPatchsPreStopThatIsNotACommandStaysAndThePodDoesNotHandOver() {
    Lifecycle patch =
        new LifecycleBuilder()
            .withNewPreStop()
            .withNewHttpGet()
            .withPath("/quit")
            .withNewPort(8080)
            .endHttpGet()
            .endPreStop()
            .build();
    Pod pod = built(patch);

    Container c = pod.getSpec().getContainers().getFirst();
    assertThat(c.getLifecycle().getPreStop().getHttpGet().getPath()).isEqualTo("/quit");
    assertThat(FusePassing.handsOver(pod)).isFalse();
  }

  @Test
  void aPodWithoutFdPassingHasNoHook() {
    Pod pod = pod("juicedata/mount:ce-v1.2.0", null);
    FusePassing.apply(pod, "/var/run/juicefs-csi", KEY);
    assertThat(pod.getSpec().getContainers().getFirst().getLifecycle()).isNull();
    assertThat(FusePassing.handsOver(pod)).isFalse();
  }

  /** Sleeps until SIGHUP; then writes STATE and exits 1, as the serving juicefs process does. */
  private static Process standInClient(Path state) throws Exception {
    Process p =
        new ProcessBuilder(
                "sh",
                "-c",
                "trap 'echo saved > "
                    + state
                    + "; exit 1' HUP; echo up; while :; do sleep 0.05; done")
            .start();
    assertThat(new String(p.getInputStream().readNBytes(3))).isEqualTo("up\n");
    return p;
  }

  private Pod built(Lifecycle patch) {
    Pod pod = pod("juicedata/mount:ce-v1.2.3", patch);
    assertThat(FusePassing.apply(pod, "/var/run/juicefs-csi", KEY)).isPresent();
    return pod;
  }

  private static List<String> preStop(Pod pod) {
    return pod.getSpec()
        .getContainers()
        .getFirst()
        .getLifecycle()
        .getPreStop()
        .getExec()
        .getCommand();
  }

  private static Process run(List<String> command) throws Exception {
    return new ProcessBuilder(command).redirectErrorStream(true).start();
  }

  private Pod pod(String image, Lifecycle lifecycle) {
    return FusePassingTest.pod(podName, image, lifecycle);
  }
}
