package io.jfscsi.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the bench reports about the file system its targets are made on. */
class HostTest {
  @TempDir Path dir;

  @Test
  void aDirectoryIsOnTheDeepestMountAboveIt() {
    assertThat(Host.fileSystemOf(Path.of("/proc/self/fd"))).isEqualTo("proc proc at /proc");
  }

  /** Two real ext4 file systems on loop devices, one made without a journal. */
  @Test
  void anExt4WithoutJournalIsCalledOut() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.require(
        Files.isExecutable(Path.of("/usr/sbin/mkfs.ext4")),
        "mkfs.ext4 (apt-get install e2fsprogs)");
    HostRequirements.require(Files.exists(Path.of("/dev/loop-control")), "loop devices");
    Path journaled = ext4("journaled", "-O", "has_journal");
    Path bare = ext4("bare", "-O", "^has_journal");
    try {
      assertThat(Host.fileSystemOf(journaled.resolve("kubelet")))
          .matches("ext4 /dev/loop\\d+ at " + journaled);
      assertThat(Host.fileSystemOf(bare.resolve("kubelet")))
          .startsWith("ext4 /dev/loop")
          .contains(" at " + bare + " WITHOUT A JOURNAL");
    } finally {
      run("umount", journaled.toString());
      run("umount", bare.toString());
    }
  }

  private Path ext4(String name, String... features) throws Exception {
    Path image = dir.resolve(name + ".img");
    Path mountPoint = Files.createDirectories(dir.resolve(name));
    run("truncate", "-s", "16M", image.toString());
    List<String> mkfs = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F"));
    mkfs.addAll(List.of(features));
    mkfs.add(image.toString());
    run(mkfs.toArray(String[]::new));
    run("mount", "-o", "loop", image.toString(), mountPoint.toString());
    Files.createDirectories(mountPoint.resolve("kubelet"));
    return mountPoint;
  }

  private static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
  }
}
