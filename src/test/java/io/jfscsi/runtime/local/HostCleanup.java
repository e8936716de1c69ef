package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientKey;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import io.jfscsi.host.ProcInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Kills test clients and unmounts what tests left under a directory: leaked mounts break other
 * tests.
 */
final class HostCleanup {
  private HostCleanup() {}

  /** Processes whose command line mentions a path under {@code dir}, except this JVM. */
  static List<Long> processesUnder(Path dir) {
    long self = ProcessHandle.current().pid();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      return procs
          .map(p -> p.getFileName().toString())
          .filter(n -> n.chars().allMatch(Character::isDigit))
          .map(Long::parseLong)
          .filter(pid -> pid != self && ProcInfo.isRunning(pid))
          .filter(pid -> ProcInfo.cmdline(pid).stream().anyMatch(a -> a.contains(dir.toString())))
          .toList();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static List<MountEntry> mountsUnder(Path dir) {
    return MountInfo.self().stream().filter(e -> e.mountPoint().startsWith(dir)).toList();
  }

  /**
   * Kills what is left in the test cgroups of {@code key} (only test clients can be in them: the
   * keys are random) and removes them; the shared jfs-csi parent stays, as the runtime leaves it.
   */
  static void removeCgroups(ClientKey key) throws Exception {
    List<MountEntry> mounts = MountInfo.self();
    for (String controller : List.of("cpu", "memory")) {
      Optional<CgroupHierarchy> h = CgroupHierarchy.find(mounts, controller);
      Path dir = h.map(x -> x.dirOf(key)).orElse(null);
      if (dir == null || !Files.isDirectory(dir)) {
        continue;
      }
      for (String pid : Files.readAllLines(dir.resolve("cgroup.procs"))) {
        ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
        ProcInfo.awaitGone(Long.parseLong(pid.trim()), Duration.ofSeconds(5));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (Files.isDirectory(dir)) {
        try {
          Files.delete(dir);
        } catch (IOException e) {
          if (System.nanoTime() > deadline) {
            throw e;
          }
          Thread.sleep(50);
        }
      }
    }
  }

  static void killAndUnmountUnder(Path dir) throws Exception {
    for (long pid : processesUnder(dir)) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      ProcInfo.awaitGone(pid, Duration.ofSeconds(5));
    }
    List<MountEntry> mounts = mountsUnder(dir);
    for (int i = mounts.size() - 1; i >= 0; i--) {
      new ProcessBuilder("umount", "-l", mounts.get(i).mountPoint().toString())
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start()
          .waitFor(10, TimeUnit.SECONDS);
    }
  }
}
