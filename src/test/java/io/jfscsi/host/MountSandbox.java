package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real mounts and FUSE clients confined to one temporary directory, torn down by {@link #close()}
 * with the system's own tools (kill, umount -l) so that cleanup does not depend on the code under
 * test. A leaked mount would break every later test on this machine.
 */
final class MountSandbox {
  private static final Duration MOUNT_WAIT = Duration.ofSeconds(10);

  private final Path root;
  private final List<Process> children = new ArrayList<>();

  MountSandbox(Path tempDir) throws IOException {
    this.root = tempDir.toRealPath();
  }

  Path root() {
    return root;
  }

  /** A fresh directory under the sandbox root. */
  Path dir(String name) throws IOException {
    return Files.createDirectories(root.resolve(name));
  }

  /**
   * Starts {@code bindfs -f source mountPoint} as a child and waits until the kernel lists the
   * mount. Attribute caching is off so that every stat reaches the client, as with a real one.
   */
  Process startBindfs(Path source, Path mountPoint) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(
                "bindfs",
                "-f",
                "-o",
                "attr_timeout=0,entry_timeout=0",
                source.toString(),
                mountPoint.toString())
            .redirectErrorStream(true)
            .redirectOutput(root.resolve("bindfs-" + children.size() + ".log").toFile())
            .start();
    children.add(p);
    long deadline = System.nanoTime() + MOUNT_WAIT.toNanos();
    while (!mountedAt(mountPoint)) {
      assertThat(p.isAlive())
          .as("bindfs exited early with %s", p.isAlive() ? 0 : p.exitValue())
          .isTrue();
      assertThat(System.nanoTime())
          .as("bindfs mounted %s in time", mountPoint)
          .isLessThan(deadline);
      Thread.sleep(20);
    }
    return p;
  }

  void mountTmpfs(Path target, String options) throws IOException, InterruptedException {
    run("mount", "-t", "tmpfs", "-o", options, "jfscsi-test", target.toString());
  }

  /** Sends a signal by name (STOP, CONT, KILL); Process only knows TERM and KILL. */
  void signal(Process p, String signal) throws IOException, InterruptedException {
    run("kill", "-" + signal, Long.toString(p.pid()));
  }

  boolean mountedAt(Path mountPoint) {
    return MountInfo.self().stream().anyMatch(e -> e.mountPoint().equals(mountPoint));
  }

  List<MountEntry> mountsUnderRoot() {
    return MountInfo.self().stream().filter(e -> e.mountPoint().startsWith(root)).toList();
  }

  /**
   * Resumes and kills every child, then lazily unmounts everything under the root, newest first.
   */
  void close() throws IOException, InterruptedException {
    for (Process p : children) {
      if (p.isAlive()) {
        // A stopped client must run again to die; errors here only mean it is already gone.
        runQuietly("kill", "-CONT", Long.toString(p.pid()));
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
    for (int round = 0; round < 64; round++) {
      List<MountEntry> left =
          mountsUnderRoot().stream()
              .sorted(Comparator.comparingInt(MountEntry::id).reversed())
              .toList();
      if (left.isEmpty()) {
        return;
      }
      runQuietly("umount", "-l", left.getFirst().mountPoint().toString());
    }
    assertThat(mountsUnderRoot()).as("mounts left under %s", root).isEmpty();
  }

  static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS))
        .as("%s finished", String.join(" ", command))
        .isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", command), output).isZero();
  }

  private static void runQuietly(String... command) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    p.waitFor(30, TimeUnit.SECONDS);
  }
}
