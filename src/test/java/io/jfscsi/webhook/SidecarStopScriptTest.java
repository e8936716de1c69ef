package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The injected client's preStop command ({@link SidecarScripts#stopScript}) run by {@code sh} on
 * this host against a real FUSE client (bindfs in the foreground, as the stand-in serves a volume):
 * the mount goes, the client exits 0, the mount point is removed; and it is done without error when
 * there is nothing left to do.
 */
class SidecarStopScriptTest {
  @TempDir Path dir;
  private Process client;
  private Process holder;

  @BeforeEach
  void fuse() {
    HostRequirements.requireFuse();
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (Process p : new Process[] {holder, client}) {
      if (p != null && p.isAlive()) {
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
    new ProcessBuilder("umount", "-l", dir.resolve("mnt").toString()).start().waitFor();
  }

  private Path mounted() throws Exception {
    return mounted(false);
  }

  /** bindfs serving dir/data on dir/mnt; SUPERVISED: as the sidecar runs it, a shell's child. */
  private Path mounted(boolean supervised) throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Files.writeString(data.resolve("f"), "kept");
    Path mnt = Files.createDirectories(dir.resolve("mnt"));
    String bindfs = "bindfs -f " + data + " " + mnt;
    client =
        (supervised
                ? new ProcessBuilder("sh", "-c", SidecarScripts.supervised(bindfs, mnt))
                : new ProcessBuilder("sh", "-c", "exec " + bindfs))
            .redirectErrorStream(true)
            .start();
    Instant deadline = Instant.now().plusSeconds(10);
    while (!isMounted(mnt)) {
      assertThat(Instant.now()).as("bindfs mounted").isBefore(deadline);
      Thread.sleep(50);
    }
    return mnt;
  }

  static boolean isMounted(Path mnt) throws IOException {
    return Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + mnt + " ");
  }

  static int stop(Path mnt) throws Exception {
    Process p =
        new ProcessBuilder("sh", "-c", SidecarScripts.stopScript(mnt))
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("the stop script ends").isTrue();
    return p.exitValue();
  }

  @Test
  void theClientsMountGoesTheClientExitsZeroAndItsMountPointIsRemoved() throws Exception {
    Path mnt = mounted();
    assertThat(stop(mnt)).isZero();
    assertThat(isMounted(mnt)).isFalse();
    assertThat(mnt).doesNotExist();
    assertThat(client.waitFor(10, TimeUnit.SECONDS)).as("the client exits").isTrue();
    assertThat(client.exitValue()).isZero();
    assertThat(dir.resolve("data/f")).hasContent("kept");
  }

  @Test
  void theSidecarsShellRemovesTheMountPointOnceItsClientExitsAndExitsWithItsStatus()
      throws Exception {
    Path mnt = mounted(true);
    // The client unmounted from outside, as the exec'd preStop command does before the kernel
    // kills it with the container: the shell is left to remove the directory.
    assertThat(new ProcessBuilder("umount", mnt.toString()).start().waitFor()).isZero();
    assertThat(client.waitFor(10, TimeUnit.SECONDS)).as("the sidecar's shell exits").isTrue();
    assertThat(client.exitValue()).isZero();
    assertThat(mnt).doesNotExist();
  }

  @Test
  void theSidecarsShellPassesSigtermToItsClientAndRemovesTheMountPoint() throws Exception {
    Path mnt = mounted(true);
    Thread.sleep(200); // the shell has set its trap
    client.destroy(); // SIGTERM, as kubelet stops the container
    assertThat(client.waitFor(10, TimeUnit.SECONDS)).as("the sidecar's shell exits").isTrue();
    assertThat(isMounted(mnt)).isFalse();
    assertThat(mnt).doesNotExist();
    assertThat(
            ProcessHandle.allProcesses()
                .anyMatch(p -> p.info().commandLine().orElse("").contains(mnt.toString())))
        .as("no client left running")
        .isFalse();
  }

  @Test
  void aMountPointNotMountedOrAlreadyGoneIsDoneWithoutError() throws Exception {
    Path mnt = Files.createDirectories(dir.resolve("mnt"));
    assertThat(stop(mnt)).isZero();
    assertThat(mnt).doesNotExist();
    assertThat(stop(mnt)).isZero();
  }

  @Test
  void aMountStillInUseIsDetachedAndTheClientExitsWithItsLastUser() throws Exception {
    Path mnt = mounted();
    // A process whose working directory is in the mount keeps it busy, as an app still running
    // when its pod is deleted would.
    holder = new ProcessBuilder("sh", "-c", "cd " + mnt + " && exec sleep 60").start();
    Thread.sleep(300);
    assertThat(holder.isAlive()).isTrue();
    assertThat(stop(mnt)).isZero();
    assertThat(isMounted(mnt)).isFalse();
    assertThat(mnt).doesNotExist();
    assertThat(client.isAlive()).as("the client serves its last user").isTrue();
    holder.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    assertThat(client.waitFor(10, TimeUnit.SECONDS)).as("the client exits").isTrue();
    assertThat(client.exitValue()).isZero();
  }
}
