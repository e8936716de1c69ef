package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ProcInfoTest {
  static final Path MOUNT = Path.of("/var/lib/juicefs/volume/pvc-1-0123456789ab");
  static final Set<String> PROGRAMS = Set.of("bindfs", "juicefs");

  @Test
  void recognisesClientsByProgramAndMountPath() {
    assertThat(
            ProcInfo.matchesClient(
                List.of("/usr/bin/bindfs", "-f", "-o", "allow_other", "/data", MOUNT.toString()),
                MOUNT,
                PROGRAMS))
        .isTrue();
    assertThat(
            ProcInfo.matchesClient(
                List.of("/bin/sh", "/opt/bin/juicefs", "mount", "redis://h/1", MOUNT.toString()),
                MOUNT,
                PROGRAMS))
        .as("a script run by its interpreter")
        .isTrue();
    assertThat(
            ProcInfo.matchesClient(
                List.of("/usr/bin/bindfs", "-f", "/data", MOUNT + "-other"), MOUNT, PROGRAMS))
        .as("another client's mount")
        .isFalse();
    assertThat(ProcInfo.matchesClient(List.of("/usr/bin/vim", MOUNT.toString()), MOUNT, PROGRAMS))
        .as("a reused pid")
        .isFalse();
    assertThat(ProcInfo.matchesClient(List.of(), MOUNT, PROGRAMS)).isFalse();
  }

  @Test
  void recognisesJuicefsAfterItRewroteItsProcessTitle() {
    // What /proc/PID/cmdline holds after gspt.SetProcTitle(strings.Join(os.Args, " ")).
    String title =
        "/usr/local/bin/juicefs mount --cache-size=100 redis://:****@127.0.0.1:6379/1 " + MOUNT;
    assertThat(ProcInfo.matchesClient(List.of(title, "", "", ""), MOUNT, PROGRAMS)).isTrue();
    assertThat(ProcInfo.matchesClient(List.of(title + "-other"), MOUNT, PROGRAMS)).isFalse();
  }

  @Test
  void readsThisProcess() {
    long self = ProcessHandle.current().pid();
    assertThat(ProcInfo.isRunning(self)).isTrue();
    assertThat(ProcInfo.stat(self).orElseThrow().state()).isIn('R', 'S');
    assertThat(ProcInfo.cmdline(self).getFirst()).endsWith("java");
    assertThat(ProcInfo.isRunning(Long.MAX_VALUE)).isFalse();
  }
}
